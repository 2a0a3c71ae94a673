"""One scenario through both front doors (see scenario.py)."""
