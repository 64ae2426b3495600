"""``python -m proxnet`` is the ``proxnet`` command."""
from .cli import main

main()
