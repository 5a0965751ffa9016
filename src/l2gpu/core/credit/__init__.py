"""Leverage for compute, as pure state machines: the lending pool (``pool``) and its
arithmetic (``rates``)."""
