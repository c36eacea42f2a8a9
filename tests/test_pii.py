"""Personal data detection: `pii(s)`, `pii(s, ignore)` and their evidence (SPEC §2.6, §4)."""

from __future__ import annotations

import time

import pytest

from smrules.pii import IBAN_LENGTHS, KINDS, PiiMatch, find_pii, ignore_key, pii


def found(s: str) -> list[tuple[str, str]]:
    return [(m.kind, m.text) for m in find_pii(s)]


# ---------------------------------------------------------------- credit cards


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1111 ok",
        "4111-1111-1111-1111",
        "4111111111111111",
        "Pay with 5500 0000 0000 0004.",
        "amex 3782 822463 10005",
        "(4111 1111 1111 1111)",
    ],
)
def test_valid_cards(text: str) -> None:
    assert pii(text) == ["credit_card"]


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "abc4111111111111111",  # touches letters
        "4111111111111111x",
        "1111 1111 1111 1111 7",  # first digit 1
        "7111 1111 1111 1119",  # first digit 7
        "4111  1111 1111 1111",  # double space: no run of 13 digits
        "4111 1111 1111 1111 1111",  # 20 digits
        "411111111111",  # 12 digits
    ],
)
def test_not_cards(text: str) -> None:
    assert "credit_card" not in pii(text)


def test_card_is_a_whole_run() -> None:
    assert pii("4111 1111 1111 1111 2026") == []


# ---------------------------------------------------------------- IBANs


@pytest.mark.parametrize(
    ("text", "iban"),
    [
        ("IBAN: DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
        ("GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
        ("gb82west12345698765432", "gb82west12345698765432"),
        ("pay to NO9386011117947 today", "NO9386011117947"),
        ("FR14 2004 1010 0505 0001 3M02 606", "FR14 2004 1010 0505 0001 3M02 606"),
        ("my IBAN DE89370400440532013000 thanks", "DE89370400440532013000"),
    ],
)
def test_valid_ibans(text: str, iban: str) -> None:
    assert found(text) == [("iban", iban)]


@pytest.mark.parametrize(
    "text",
    [
        "DE89 3704 0044 0532 0130 01",  # checksum
        "DE88 3704 0044 0532 0130 00",  # check digits
        "DE89 3704 0044 0532 0130 0",  # too short for DE
        "DE89 3704 0044 0532 0130 000",  # too long for DE
        "DE89370400440532013000X",  # touches a letter
        "XDE89370400440532013000",
        "DE89  3704 0044 0532 0130 00",  # double space
        "ZZ89 3704 0044 0532 0130 00",  # no such country
    ],
)
def test_not_ibans(text: str) -> None:
    assert "iban" not in pii(text)


def test_iban_registry() -> None:
    assert len(IBAN_LENGTHS) >= 89
    assert IBAN_LENGTHS["DE"] == 22 and IBAN_LENGTHS["NO"] == 15 and IBAN_LENGTHS["RU"] == 33
    assert all(15 <= n <= 34 for n in IBAN_LENGTHS.values())


def test_two_ibans_in_one_spaced_run() -> None:
    text = "DE89 3704 0044 0532 0130 00 GB82 WEST 1234 5698 7654 32"
    assert [k for k, _ in found(text)] == ["iban", "iban"]


# ---------------------------------------------------------------- SSNs


@pytest.mark.parametrize("text", ["SSN 123-45-6789.", "078-05-1120", "899-99-9999"])
def test_valid_ssns(text: str) -> None:
    assert pii(text) == ["ssn"]


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "999-12-3456",
        "123-00-4567",
        "123-45-0000",
        "a123-45-6789",
        "1123-45-6789",
        "123-45-67890",
        "123 45 6789",
    ],
)
def test_not_ssns(text: str) -> None:
    assert "ssn" not in pii(text)


# ---------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("mail john.doe+tag@example.co.uk.", "john.doe+tag@example.co.uk"),
        ("<a_b%c@sub-domain.example.org>", "a_b%c@sub-domain.example.org"),
        ("ＪＯＨＮ@ＥＸＡＭＰＬＥ.ＣＯＭ", "ＪＯＨＮ@ＥＸＡＭＰＬＥ.ＣＯＭ"),
    ],
)
def test_emails(text: str, email: str) -> None:
    assert found(text) == [("email", email)]


@pytest.mark.parametrize("text", ["john@localhost", "john@example.c", "@example.com", "a@b.com5"])
def test_not_emails(text: str) -> None:
    assert "email" not in pii(text)


# ---------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("call +49 (0)30 123456 now", "+49 (0)30 123456"),
        ("+1 (555) 123-4567", "+1 (555) 123-4567"),
        ("0049 30 1234567", "0049 30 1234567"),
        ("030/1234567", "030/1234567"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("tel. 030.123.456.78", "030.123.456.78"),
        ("12345678", "12345678"),
        ("０３０ １２３４５６７", "０３０ １２３４５６７"),
    ],
)
def test_phones(text: str, phone: str) -> None:
    assert found(text) == [("phone", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "1234567",  # 7 digits
        "1234 5678 9012 3456",  # 16 digits
        "on 2026-11-16",  # a date
        "2026-11-16 12:30",  # a date and a time
        "2026-11-16T08:00Z",
        "(030) (123) 45678",  # two parenthesised groups
        "12  34 56 78",  # double space breaks the run
        "abc12345678",
        "12345678abc",
    ],
)
def test_not_phones(text: str) -> None:
    assert "phone" not in pii(text)


def test_phone_never_overlaps_another_kind() -> None:
    assert found("123-45-6789") == [("ssn", "123-45-6789")]
    assert found("DE89 3704 0044 0532 0130 00") == [("iban", "DE89 3704 0044 0532 0130 00")]
    assert found("123-45-6789 030 1234567") == [("ssn", "123-45-6789"), ("phone", "030 1234567")]
    # An ignored SSN is still an SSN, so it does not turn into a phone number.
    assert pii("123-45-6789", ["123-45-6789"]) == []


# ---------------------------------------------------------------- all kinds, ignore, offsets


def test_sorted_kinds_each_once() -> None:
    text = (
        "Reach me at jane@example.com or +49 30 1234567, card 4111 1111 1111 1111, "
        "card 5500 0000 0000 0004, SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00"
    )
    assert pii(text) == sorted(KINDS)
    assert pii(None) == [] and pii("") == [] and find_pii(None) == []


def test_kinds_filter() -> None:
    text = "jane@example.com 123-45-6789 030 1234567"
    assert [m.kind for m in find_pii(text, frozenset({"phone"}))] == ["phone"]
    assert [m.kind for m in find_pii(text, frozenset({"ssn", "email"}))] == ["email", "ssn"]
    with pytest.raises(ValueError, match="passport"):
        find_pii(text, frozenset({"passport"}))


def test_ignore_compares_without_case_or_separators() -> None:
    text = "Card 4111 1111 1111 1111, mail Info@ACME.com, SSN 123-45-6789"
    assert pii(text, ["4111-1111-1111-1111", "info@acme.com"]) == ["ssn"]
    assert pii(text, ["４１１１１１１１１１１１１１１１"]) == ["email", "ssn"]
    assert pii("+49 (0)30 123456", ["+49 030 123 456"]) == []
    assert pii(text, ["4111 1111 1111 1112"]) == ["credit_card", "email", "ssn"]
    assert ignore_key(" De89-3704.0044/0532 (0130) 00 ") == "de89370400440532013000"


def test_offsets_into_the_original_string() -> None:
    text = "Ｔｅｌ：＋４９ ３０ １２３４５６, ca\u00adrd 4111 1111 1111 1111 and 123-45-6789"
    matches = find_pii(text)
    assert [(m.kind, text[m.start : m.end]) for m in matches] == [
        ("phone", "＋４９ ３０ １２３４５６"),
        ("credit_card", "4111 1111 1111 1111"),
        ("ssn", "123-45-6789"),
    ]
    assert matches[0] == PiiMatch("phone", 4, 17, "＋４９ ３０ １２３４５６")
    assert all(m.text == text[m.start : m.end] for m in matches)


def test_full_width_digits_count_and_letters_block() -> None:
    assert pii("４１１１ １１１１ １１１１ １１１１") == ["credit_card"]
    assert pii("é4111111111111111") == []
    assert pii("Ж 4111111111111111 Ж") == ["credit_card"]


HOSTILE = {
    "100k digits spaced": lambda: " ".join("1234567890"[i % 10] for i in range(100_000)),
    "digits spaced": lambda: "1 " * 2**19,
    "digits and letters": lambda: "1 a " * 2**18,
    "digits and hyphens": lambda: "1-" * 2**19,
    "digits and dots": lambda: "1." * 2**19,
    "parenthesised digits": lambda: "(1)" * 2**18,
    "open parentheses": lambda: "1(" * 2**19,
    "spaced IBAN heads": lambda: "DE12 " * 2**18,
    "IBAN heads": lambda: "de12" * 2**18,
    "local part": lambda: "a" * 2**20 + "@",
    "chained domains": lambda: "a@b.cc." * (2**20 // 7),
    "full-width digits": lambda: "４" * 2**20,
    "many real findings": lambda: "4111 1111 1111 1111, 123-45-6789; +49 30 123456 " * 2**14,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_is_linear(name: str) -> None:
    hostile = HOSTILE[name]()
    started = time.perf_counter()
    find_pii(hostile)
    assert time.perf_counter() - started < 60  # quadratic would take hours; room for a busy machine
