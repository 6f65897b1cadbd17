"""tuangou (團購): group-buying platform and group-buy sales back office."""

__version__ = "0.1.0"
