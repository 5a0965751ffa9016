"""The provider agent: GPU discovery, offers and heartbeats, jobs behind one backend
interface (local processes or Ray), per-second metering checked against vouchers."""
