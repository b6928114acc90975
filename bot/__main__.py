"""``python -m bot``: the same CLI as ``isms-bot``, without the installed console script."""

from bot.cli import main

main()
