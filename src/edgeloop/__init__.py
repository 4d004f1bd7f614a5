"""edgeloop: autonomous AIoT site agents that close the loop and prove their return."""

__version__ = "0.1.0"
