"""`wzp-relay`: run a relay (signaling, reflect, media rooms) on one UDP port."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from app.identity import IdentityFileError
from app.nat.addresses import address_arg, listen_address_arg
from app.relay.server import RelayServer

log = logging.getLogger("wzp.relay")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wzp-relay", description="WZP relay: signaling, reflect and media rooms over QUIC."
    )
    p.add_argument(
        "--listen",
        type=listen_address_arg,
        default="0.0.0.0:4433",
        help="HOST:PORT to listen on (default 0.0.0.0:4433)",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="where the relay key and certificate live")
    p.add_argument(
        "--advertise",
        type=address_arg,
        default=None,
        help="HOST:PORT clients should use for media (default: listen address)",
    )
    p.add_argument(
        "--probe-listen",
        type=listen_address_arg,
        default=None,
        help="a second HOST:PORT answering reflect, for NAT type detection",
    )
    p.add_argument("--ring-timeout", type=float, default=45.0, help="seconds an unanswered call rings (default 45)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


async def run(args: argparse.Namespace) -> int:
    from app.relay.limits import RelayLimits

    data_dir = args.data_dir
    if data_dir is None:
        from platformdirs import user_data_dir

        data_dir = Path(user_data_dir("wzp-relay", appauthor=False))
    server = await RelayServer.start(
        args.listen,
        data_dir=data_dir,
        advertise=args.advertise,
        probe_listen=args.probe_listen,
        limits=RelayLimits(ring_timeout=args.ring_timeout),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.stop()))
    ports = " ".join(str(e.port) for e in server.endpoints)
    print(
        f"wzp-relay listening on {args.listen.rsplit(':', 1)[0]}:{server.port} ports {ports} "
        f"media {server.media_addr} fingerprint {server.fingerprint}",
        flush=True,
    )
    await server.serve_forever()
    print("wzp-relay stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("quic").setLevel(logging.WARNING)  # aioquic's per-connection chatter
    try:
        return asyncio.run(run(args))
    except IdentityFileError as exc:
        print(f"wzp-relay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"wzp-relay: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
