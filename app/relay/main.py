"""`wzp-relay`: run a relay (signaling, reflect, media rooms) on one UDP port.

With `--cluster nats://...` the process is one node of a relay service: nodes share
presence and route call signalling over NATS (app.relay.cluster); see docs/DEPLOY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path

from app.identity import Identity, IdentityFileError
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
    p.add_argument(
        "--map-port",
        action="store_true",
        help="ask the router (UPnP-IGD, NAT-PMP, PCP) to forward a public port to this relay "
        "(a relay hosted at home); deleted on exit",
    )
    p.add_argument("--ring-timeout", type=float, default=45.0, help="seconds an unanswered call rings (default 45)")
    p.add_argument(
        "--identity-file",
        type=Path,
        default=None,
        help="the relay key file (identity.json) to use instead of DATA_DIR's; created if missing. "
        "Every node of a cluster uses the same one, so clients pin the service, not a process",
    )
    cluster = p.add_argument_group("cluster (one relay service over several processes; see docs/DEPLOY.md)")
    cluster.add_argument(
        "--cluster",
        type=_nats_urls,
        default=None,
        metavar="nats://H:P[,nats://H:P...]",
        help="join a relay cluster through these NATS servers",
    )
    cluster.add_argument("--node", default=None, help="this node's unique name (default: HOST-PID)")
    cluster.add_argument("--cluster-prefix", default="wzp", help="NATS subject prefix of the service (default wzp)")
    cluster.add_argument("--cluster-creds", type=Path, default=None, help="NATS .creds file (JWT + nkey)")
    cluster.add_argument("--cluster-nkey", type=Path, default=None, help="NATS nkey seed file")
    cluster.add_argument("--cluster-heartbeat", type=float, default=1.0, help="seconds between heartbeats (default 1)")
    cluster.add_argument(
        "--cluster-expiry",
        type=float,
        default=4.0,
        help="a node not heard from this long is gone: its users offline, its calls ended (default 4)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def _nats_urls(value: str) -> list[str]:
    urls = [u.strip() for u in value.split(",") if u.strip()]
    if not urls or not all(re.match(r"^(nats|tls)://[^\s/]+$", u) for u in urls):
        raise argparse.ArgumentTypeError("expected nats://HOST:PORT[,nats://HOST:PORT...]")
    return urls


def default_node_name() -> str:
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40] or "relay"
    return f"{host}-{os.getpid()}"


def load_identity_file(path: Path) -> Identity:
    """The relay key at `path`; made (exclusively: concurrent nodes end up with one key) if missing."""
    from app.identity.store import _create_exclusively, load_identity

    try:
        return load_identity(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    identity = Identity.generate()
    if not _create_exclusively(path, identity):
        return load_identity(path)
    log.info("created the relay key %s in %s", identity.fingerprint, path)
    return identity


async def run(args: argparse.Namespace) -> int:
    from app.relay.limits import RelayLimits

    data_dir = args.data_dir
    if data_dir is None:
        from platformdirs import user_data_dir

        data_dir = Path(user_data_dir("wzp-relay", appauthor=False))
    identity = load_identity_file(args.identity_file) if args.identity_file else None
    link = None
    mapping = None
    if args.cluster:
        from app.relay.cluster import ClusterConfig, ClusterLink
        from app.relay.cluster_core import ClusterTimings

        host = args.listen.rsplit(":", 1)[0].strip("[]")
        if args.advertise is None and host in ("0.0.0.0", "::"):
            raise UsageError(
                "--cluster needs --advertise HOST:PORT (or a concrete --listen): other nodes' "
                "users are sent to this node's media address"
            )
        config = ClusterConfig(
            servers=args.cluster,
            node=args.node or default_node_name(),
            prefix=args.cluster_prefix,
            timings=ClusterTimings(heartbeat=args.cluster_heartbeat, expiry=args.cluster_expiry),
            creds_file=args.cluster_creds,
            nkey_seed_file=args.cluster_nkey,
        )
        try:
            link = await ClusterLink.connect(config)
        except Exception as exc:
            raise UsageError(
                f"cannot reach the NATS servers {','.join(args.cluster)}: {exc or type(exc).__name__}"
            ) from exc
    try:
        server = await RelayServer.start(
            args.listen,
            data_dir=None if identity else data_dir,
            identity=identity,
            advertise=args.advertise,
            probe_listen=args.probe_listen,
            limits=RelayLimits(ring_timeout=args.ring_timeout),
            core_wrapper=link.wrap if link else None,
        )
    except BaseException:
        if link is not None:
            await link.close()
        raise
    try:
        if link is not None:
            await link.attach(server)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.stop()))
        ports = " ".join(str(e.port) for e in server.endpoints)
        print(
            f"wzp-relay listening on {args.listen.rsplit(':', 1)[0]}:{server.port} ports {ports} "
            f"media {server.media_addr} fingerprint {server.fingerprint}",
            flush=True,
        )
        if link is not None and link.core is not None:
            print(f"wzp-relay cluster node {link.core.node} prefix {link.core.prefix}", flush=True)
        if args.map_port:
            from app.relay.port_mapping import RelayPortMapping

            def show(status: dict[str, object]) -> None:
                print(
                    f"wzp-relay port mapping {status['state']} method {status['method']} "
                    f"mapped {status['mapped_addr']} answer {status['answer']}",
                    flush=True,
                )

            mapping = RelayPortMapping(server.port, on_change=show)
            mapping.start()
        await server.serve_forever()
    finally:
        if mapping is not None:
            await mapping.close()
        if link is not None:
            await link.close()
        await server.stop()
    print("wzp-relay stopped", flush=True)
    return 0


class UsageError(Exception):
    pass


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
    except (IdentityFileError, UsageError) as exc:
        print(f"wzp-relay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"wzp-relay: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
