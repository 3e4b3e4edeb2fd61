"""obview: a terminal order book viewer for Futu OpenD, Loopring and bthub."""

__version__ = "0.1.0"
