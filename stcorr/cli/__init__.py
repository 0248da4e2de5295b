"""The ``stcorr`` command line."""
