"""`python -m bot` is `orderbot`."""
from bot.cli import main

main()
