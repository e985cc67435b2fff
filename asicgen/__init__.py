"""asicgen: radiation-tolerant neural-network IP for detector front-end ASICs."""

__version__ = "0.1.0"
