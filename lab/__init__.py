"""The local lab: a real three-master etcd cluster with TLS, sshd, apt and docker.

Run it with `python -m lab up|down|status|fault|clear|reboot|writer|monitor`
(or the Makefile's lab-* targets). Only the kernel is simulated.
"""
