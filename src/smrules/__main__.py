from smrules.cli import main

main()
