"""The demos `edgeloop demo` runs: one site (`site.py`: a broker, a simulated factory and a site agent) or a fleet
(`fleet.py`: N sites, each a simulator and an agent process, one broker). `processes.py` holds the command lines
of the processes both start.
"""
