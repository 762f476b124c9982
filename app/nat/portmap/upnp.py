"""UPnP-IGD (v1 and v2) port mapping with async-upnp-client: find the gateway by SSDP,
read its description, add (and later delete) a UDP port mapping on its WAN connection."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from app.nat.portmap.errors import PortMapError, PortMapRefused

__all__ = ["IGD_SEARCH_TARGETS", "UpnpLease", "add_mapping", "delete_mapping", "discover"]

log = logging.getLogger(__name__)

IGD_SEARCH_TARGETS = (
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
)
_CONFLICT = "718"  # ConflictInMappingEntry
_ONLY_PERMANENT = "725"  # OnlyPermanentLeasesSupported


@dataclass
class UpnpLease:
    device: Any  # async_upnp_client.profiles.igd.IgdDevice
    location: str
    internal_ip: str
    external_ip: str
    external_port: int
    lifetime: int  # 0: the router only grants permanent mappings (deleted on exit)
    model: str


async def discover(timeout: float = 2.0) -> str:
    """The LOCATION URL of the first Internet Gateway Device that answers an SSDP search."""
    from async_upnp_client.search import SsdpSearchListener

    loop = asyncio.get_running_loop()
    found: asyncio.Future[str] = loop.create_future()

    async def on_response(headers: Any) -> None:
        location = headers.get("location") or headers.get("LOCATION")
        if location and not found.done():
            found.set_result(str(location))

    listeners = []
    try:
        for target in IGD_SEARCH_TARGETS:
            listener = SsdpSearchListener(
                async_callback=on_response,
                loop=loop,
                search_target=target,
                timeout=max(1, int(timeout)),
                async_connect_callback=None,
            )
            listeners.append(listener)
            await listener.async_start()
            listener.async_search()
        return await asyncio.wait_for(found, timeout)
    except TimeoutError as exc:
        raise PortMapError("UPnP: no Internet Gateway Device answered the SSDP search") from exc
    except OSError as exc:
        raise PortMapError(f"UPnP: SSDP search failed ({exc})") from exc
    finally:
        for listener in listeners:
            listener.async_stop()


def _local_ip_towards(host: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, 9))  # picks the route; sends nothing
        return str(sock.getsockname()[0])


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "error_code", None)
    return str(code) if code is not None else ""


async def add_mapping(
    location: str,
    internal_port: int,
    lifetime: int,
    *,
    description: str = "WZP",
    external_port: int | None = None,
) -> UpnpLease:
    """Map UDP ``external_port`` (default: the internal port; on a conflict a few random ones)
    to our ``internal_port`` on the gateway at ``location``."""
    from async_upnp_client.aiohttp import AiohttpRequester
    from async_upnp_client.client_factory import UpnpFactory
    from async_upnp_client.exceptions import UpnpError
    from async_upnp_client.profiles.igd import IgdDevice

    host = urlparse(location).hostname
    if not host:
        raise PortMapError(f"UPnP: gateway location {location!r} has no host")
    try:
        device = await UpnpFactory(AiohttpRequester(timeout=3)).async_create_device(location)
        igd = IgdDevice(device, None)
        internal_ip = _local_ip_towards(host)
        external_ip = await igd.async_get_external_ip_address()
    except (UpnpError, OSError, TimeoutError) as exc:
        raise PortMapError(f"UPnP: gateway at {location} did not answer: {exc or type(exc).__name__}") from exc
    if not external_ip:
        raise PortMapRefused("UPnP: the gateway reports no external IP address")
    try:
        if ipaddress.ip_address(external_ip).is_unspecified:
            raise PortMapRefused("UPnP: the gateway reports external IP 0.0.0.0 (not connected)")
    except ValueError as exc:
        raise PortMapError(f"UPnP: gateway reports an invalid external IP {external_ip!r}") from exc
    ports = [external_port or internal_port] + [random.randint(20000, 60000) for _ in range(3)]
    last: Exception | None = None
    for port in ports:
        for lease in (lifetime, 0):
            try:
                await igd.async_add_port_mapping(
                    remote_host=ipaddress.IPv4Address("0.0.0.0"),
                    external_port=port,
                    protocol="UDP",
                    internal_port=internal_port,
                    internal_client=ipaddress.IPv4Address(internal_ip),
                    enabled=True,
                    description=description,
                    lease_duration=timedelta(seconds=lease),
                )
            except (UpnpError, OSError, TimeoutError) as exc:
                last = exc
                code = _error_code(exc)
                log.info("UPnP AddPortMapping %d -> %s:%d refused: %s", port, internal_ip, internal_port, exc)
                if code == _ONLY_PERMANENT and lease:
                    continue  # try again with a permanent lease, deleted on exit
                break  # a conflict or another refusal: next port
            return UpnpLease(igd, location, internal_ip, external_ip, port, lease, device.model_name or "")
    raise PortMapRefused(f"UPnP: AddPortMapping refused ({last})")


async def delete_mapping(lease: UpnpLease) -> None:
    from async_upnp_client.exceptions import UpnpError

    try:
        await lease.device.async_delete_port_mapping(
            remote_host=ipaddress.IPv4Address("0.0.0.0"), external_port=lease.external_port, protocol="UDP"
        )
    except (UpnpError, OSError, TimeoutError) as exc:
        raise PortMapError(f"UPnP: DeletePortMapping failed ({exc})") from exc
