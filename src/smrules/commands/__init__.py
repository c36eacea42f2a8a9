"""One module per `smrules` command; each defines a click command named `command`."""
