"""Port mapping: ask the home router to forward a public port to our shared UDP socket.

Three protocols, tried in parallel, the first answer kept (`mapper.PortMapper`):
NAT-PMP (RFC 6886, `natpmp`), PCP (RFC 6887, `pcp`) and UPnP-IGD (`upnp`, via
async-upnp-client). The NAT-PMP and PCP codecs are sans-IO; `udp.py` is their small
asyncio exchange. A mapped address becomes a candidate of kind ``"mapped"``.
"""

from app.nat.portmap.mapper import METHODS, Mapping, MappingStatus, PortMapper

__all__ = ["METHODS", "Mapping", "MappingStatus", "PortMapper"]
