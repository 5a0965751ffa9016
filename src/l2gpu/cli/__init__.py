"""The ``l2gpu`` command line: thin commands over the shells."""
