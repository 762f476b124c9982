"""`wzp-cli`: the headless client (a product feature, and the contract our checks use).

    wzp-cli [--data-dir D] id
    wzp-cli [--data-dir D] [--relay R] [--json] listen [--answer trusted|generic|reject] [--max-calls N]
    wzp-cli [--data-dir D] [--relay R] [--json] call FINGERPRINT|wzp:LINK [--duration S]
    wzp-cli [--data-dir D] [--relay R] invite
    wzp-cli [--data-dir D] nearby [--wait S]
    wzp-cli [--data-dir D] --relay R [--json] nat [--probe HOST:PORT ...]

R is a host name or IP literal with an optional port (default 4433), or several nodes of one
relay service as A,B,C. Without --relay, `listen` hosts a relay on this machine and announces
itself on the LAN (like the GUI), and `call` finds the person on the LAN (or uses the relays
their invite link names).

With --json every event is one JSON object per line on stdout, with an "event" key.
Exit status 0 when things went as asked; otherwise non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from app import events as ev
from app.client.client import ClientError, WzpClient
from app.identity import IdentityFileError, default_data_dir, load_or_create_identity, parse_fingerprint
from app.identity.alias import display_alias, self_chosen_name
from app.invite import Invite, InviteError, format_invite, parse_target
from app.media.errors import CodecError
from app.nat.addresses import address_arg
from app.nat.relay_address import relay_list_arg
from app.storage import BlockList, DatabaseError, open_database
from app.tasks import TaskSet

log = logging.getLogger("wzp.cli")

EXIT_OK = 0
EXIT_CALL_FAILED = 1
EXIT_USAGE = 2
EXIT_RELAY = 3


class CliFailure(Exception):
    def __init__(self, message: str, code: int = EXIT_CALL_FAILED) -> None:
        super().__init__(message)
        self.code = code


END_REASONS = {
    "Declined": "the other side declined the call",
    "Busy": "the other side is busy in another call",
    "Offline": "the other side is offline",
    "Unavailable": "the other side cannot be called",
    "Timeout": "no answer (the call rang out)",
    "Cancelled": "the call was cancelled",
    "Error": "the call failed",
    "LimitExceeded": "too many calls at once",
    "Replaced": "this identity registered again elsewhere",
    "Unreachable": "the other side's relay could not be reached",
}
#: How long `call` without --relay looks for the person on the LAN.
LAN_LOOKUP_S = 5.0
HOSTED_RELAY_FILE = "hosted-relay.json"


def _end_sentence(event: ev.Ended) -> str:
    if event.reason == "Offline" and event.relay:
        return f"the other side is not online at the relay {event.relay}"
    if event.reason == "Unreachable" and event.relay:
        return f"the relay {event.relay} could not be reached"
    return END_REASONS.get(event.reason, event.reason)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wzp-cli", description="WZP headless client.")
    p.add_argument("--data-dir", type=Path, default=None, help="identity and settings folder")
    p.add_argument(
        "--relay",
        type=relay_list_arg,
        default=None,
        help="relay HOST[:PORT] (host name or IP; port 4433 if omitted), or several nodes of one relay "
        "service as A,B,C (the next is tried when one fails). Without it, listen hosts a relay here",
    )
    p.add_argument("--no-lan", action="store_true", help="do not announce or look for people on the LAN")
    p.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    p.add_argument("--port", type=int, default=0, help="local UDP port of the shared socket (default: any)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("id", help="print this identity's fingerprint and alias")
    sub.add_parser("devices", help="list audio devices")
    listen = sub.add_parser("listen", help="register and answer calls")
    listen.add_argument("--answer", choices=["trusted", "generic", "reject"], default="trusted")
    listen.add_argument("--max-calls", type=int, default=0, help="exit after N calls have ended (0: never)")
    listen.add_argument("--hidden", action="store_true", help="do not show up in presence lists")
    listen.add_argument(
        "--announce", action="store_true", help="announce on the LAN also when using --relay (always without it)"
    )
    _media_args(listen)
    call = sub.add_parser("call", help="call a fingerprint or an invite link")
    call.add_argument("fingerprint", metavar="TARGET", help="a fingerprint or a wzp: invite link")
    call.add_argument("--duration", type=float, default=5.0, help="seconds to stay in the call (default 5)")
    _media_args(call)
    block = sub.add_parser("block", help="never ring for calls from this fingerprint (declined silently)")
    block.add_argument("fingerprint")
    unblock = sub.add_parser("unblock", help="let calls from this fingerprint ring again")
    unblock.add_argument("fingerprint")
    sub.add_parser("blocked", help="list blocked fingerprints")
    sub.add_parser("invite", help="print this identity's invite link (naming --relay, or this machine's relay)")
    nearby = sub.add_parser("nearby", help="list people on this network (one JSON object each)")
    nearby.add_argument("--wait", type=float, default=3.0, help="seconds to listen (default 3)")
    nat = sub.add_parser("nat", help="detect the NAT type from this machine")
    nat.add_argument(
        "--probe",
        type=address_arg,
        action="append",
        default=None,
        help="reflect against this HOST:PORT (repeatable; default: the relay and its port+1)",
    )
    return p


def _media_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--play", type=Path, default=None, help="send this WAV file instead of the microphone")
    p.add_argument("--record", type=Path, default=None, help="write what is received to this WAV file")
    p.add_argument("--bitrate", type=int, default=24000, help="Opus bitrate in bit/s (16000-64000)")
    p.add_argument("--no-audio", action="store_true", help="send silence, play nothing (no audio devices)")
    p.add_argument(
        "--input-device", default=None, help="microphone name (or part of it) or number; default device if unset"
    )
    p.add_argument(
        "--output-device", default=None, help="speaker name (or part of it) or number; default device if unset"
    )
    p.add_argument("--dtx", action="store_true", help="Opus discontinuous transmission (fewer packets in silence)")
    p.add_argument("--no-aec", action="store_true", help="no echo cancellation on the microphone")
    p.add_argument("--no-ns", action="store_true", help="no noise suppression on the microphone")
    p.add_argument("--no-agc", action="store_true", help="no automatic gain control on the microphone")


class Printer:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def event(self, event: ev.ClientEvent) -> None:
        self.line(event.to_dict())

    def line(self, data: dict[str, Any]) -> None:
        if self.as_json:
            print(json.dumps(data, separators=(",", ":")), flush=True)
        else:
            name = data.get("event", "")
            rest = " ".join(f"{k}={_human(k, v)}" for k, v in data.items() if k != "event")
            print(f"{name}: {rest}" if name else rest, flush=True)


def _human(key: str, value: Any) -> Any:
    """A value for the human output: other people's aliases are cleaned and marked as theirs."""
    if key == "peer_alias":
        return self_chosen_name(value) or '""'
    if key == "alias" and isinstance(value, str):
        return display_alias(value)  # our own alias (Registered)
    if key == "users" and isinstance(value, list):
        return [{**u, "alias": self_chosen_name(u.get("alias", ""))} if isinstance(u, dict) else u for u in value]
    return value


async def _with_client(args: argparse.Namespace, printer: Printer, body: Any) -> int:
    data_dir = args.data_dir or default_data_dir()
    identity = load_or_create_identity(data_dir)
    hosted = None
    relays = args.relay
    if relays is None and args.command == "listen":
        from app.relay.hosted import RelayHost, RelayHostError

        hosted = RelayHost(data_dir)
        hosted.on_port_mapping = lambda status: printer.line({"event": "relay_port_mapping", **status})
        try:
            relays = [await hosted.start()]
        except RelayHostError as exc:
            raise CliFailure(str(exc), EXIT_RELAY) from exc
        _save_hosted_port(data_dir, hosted.port)
    elif relays is None and args.command == "nat":
        raise CliFailure("--relay HOST[:PORT] is required for this command", EXIT_USAGE)
    client = WzpClient(
        identity,
        data_dir,
        relays,
        port=args.port,
        discoverable=not getattr(args, "hidden", False),
        blocked=_block_list(data_dir),
    )
    if args.command in ("call", "listen"):
        from app.media.audio_processing import ProcessingConfig
        from app.media.session_factory import make_media_factory

        client.media_factory = make_media_factory(
            play=getattr(args, "play", None),
            record=getattr(args, "record", None),
            bitrate=getattr(args, "bitrate", 24000),
            no_audio=getattr(args, "no_audio", False),
            input_device=getattr(args, "input_device", None),
            output_device=getattr(args, "output_device", None),
            dtx=getattr(args, "dtx", False),
            processing=ProcessingConfig(
                echo_cancellation=not getattr(args, "no_aec", False),
                noise_suppression=not getattr(args, "no_ns", False),
                gain_control=not getattr(args, "no_agc", False),
            ),
            emit=client.emit,
        )
    client.add_listener(printer.event)
    nearby = None
    announce = args.command == "listen" and (hosted is not None or args.announce)
    if not args.no_lan and (announce or (args.command == "call" and args.relay is None)):
        from app.lan.nearby import Nearby

        lan_relays = hosted.lan_addresses() if hosted is not None else list(relays or [])
        nearby = Nearby(identity.fingerprint, client.alias, lan_relays, announce=announce)
    await client.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stop_task: asyncio.Future[Any] | None = None
    try:
        if nearby is not None:
            await nearby.start()
        args.nearby = nearby
        body_task = asyncio.ensure_future(body(client, stop))
        stop_task = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({body_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if body_task in done:
            return body_task.result()
        body_task.cancel()
        await asyncio.gather(body_task, return_exceptions=True)
        return EXIT_OK
    finally:
        if stop_task is not None:
            stop_task.cancel()
        await client.stop()
        if nearby is not None:
            await nearby.stop()
        if hosted is not None:
            await hosted.stop()


async def _register(client: WzpClient, timeout: float = 10.0) -> None:
    if not client.relays:
        return  # no home relay: nothing to register with (calls go to the callee's relay)
    try:
        await client.wait_registered(timeout)
    except TimeoutError:
        raise CliFailure(f"could not register with the relay {client.relay} within {timeout:g} s", EXIT_RELAY) from None


async def cmd_call(args: argparse.Namespace, printer: Printer) -> int:
    try:
        target = parse_target(args.fingerprint)
    except InviteError as exc:
        raise CliFailure(str(exc), EXIT_USAGE) from exc

    async def body(client: WzpClient, stop: asyncio.Event) -> int:
        await _register(client)
        relays: list[str] = []
        if not target.relays and not client.relays:
            if args.nearby is None:
                raise CliFailure("no relay for this person: give --relay or their invite link", EXIT_USAGE)
            peer = await args.nearby.wait_for(target.fingerprint, LAN_LOOKUP_S)
            if peer is None:
                raise CliFailure(
                    f"{target.fingerprint} was not found on this network within {LAN_LOOKUP_S:g} s; "
                    "ask for their invite link"
                )
            relays = list(peer.relays)
        outcome: asyncio.Queue[ev.ClientEvent] = asyncio.Queue()
        client.add_listener(lambda e: outcome.put_nowait(e) if isinstance(e, ev.PathChosen | ev.Ended) else None)
        try:
            call_id = await client.place_call(args.fingerprint, relays)
        except ClientError as exc:
            raise CliFailure(str(exc), EXIT_USAGE) from exc
        first = await outcome.get()
        if isinstance(first, ev.Ended):
            raise CliFailure(f"call ended: {_end_sentence(first)}")
        try:
            ended = await asyncio.wait_for(_next_end(outcome, call_id), args.duration)
            if ended.reason not in ("Normal",):
                raise CliFailure(f"call ended: {_end_sentence(ended)}")
            return EXIT_OK
        except TimeoutError:
            await client.hangup(call_id)
            return EXIT_OK

    return await _with_client(args, printer, body)


async def _next_end(queue: asyncio.Queue[ev.ClientEvent], call_id: str) -> ev.Ended:
    while True:
        event = await queue.get()
        if isinstance(event, ev.Ended) and event.call_id == call_id:
            return event


async def cmd_listen(args: argparse.Namespace, printer: Printer) -> int:
    async def body(client: WzpClient, stop: asyncio.Event) -> int:
        await _register(client)
        ended = 0
        done = asyncio.Event()
        answering = TaskSet("cli listen")

        def on_event(event: ev.ClientEvent) -> None:
            nonlocal ended
            if isinstance(event, ev.Incoming):
                answering.spawn(_answer(client, event.call_id, args.answer), "answer a call")
            elif isinstance(event, ev.Ended):
                ended += 1
                if args.max_calls and ended >= args.max_calls:
                    done.set()

        client.add_listener(on_event)
        await done.wait()
        return EXIT_OK

    return await _with_client(args, printer, body)


async def _answer(client: WzpClient, call_id: str, mode: str) -> None:
    try:
        await client.answer(call_id, mode)
    except ClientError as exc:
        log.warning("could not answer call_id=%s: %s", call_id, exc)


NAT_MAPPING_WAIT_S = 6.0  # UPnP: 2 s SSDP search, then the router's description and SOAP calls


async def cmd_nat(args: argparse.Namespace, printer: Printer) -> int:
    async def body(client: WzpClient, stop: asyncio.Event) -> int:
        await _register(client)
        report = await client.detect_nat(args.probe)
        mapping: dict[str, Any] = {"state": "off", "method": None, "mapped_addr": None, "answers": {}}
        if client.port_mapper is not None:  # every method had its chance (UPnP's search takes 2 s)
            await client.port_mapper.wait_settled(NAT_MAPPING_WAIT_S)
            mapping = client.port_mapper.status.as_dict()
            mapping.pop("mapping", None)
        printer.line(
            {
                "event": "nat",
                "nat_type": report.nat_type,
                "public_addr": report.public_addr,
                "explanation": report.explanation,
                "probes": [{"server": p.server, "observed": p.observed, "error": p.error} for p in report.probes],
                "port_mapping": mapping,
            }
        )
        return EXIT_OK

    return await _with_client(args, printer, body)


def _save_hosted_port(data_dir: Path, port: int) -> None:
    """Remember where this machine's relay listens, for `invite` without --relay."""
    from app.storage.atomic import atomic_write

    try:
        atomic_write(data_dir / HOSTED_RELAY_FILE, json.dumps({"port": port}).encode())
    except OSError as exc:
        log.warning("could not save the hosted relay's port: %s", exc)


def _hosted_port(data_dir: Path) -> int:
    from app.relay.hosted import DEFAULT_PORT

    try:
        port = json.loads((data_dir / HOSTED_RELAY_FILE).read_text())["port"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_PORT
    return port if isinstance(port, int) and 0 < port < 65536 else DEFAULT_PORT


def cmd_invite(args: argparse.Namespace, printer: Printer) -> int:
    from app.nat.candidates import local_host_candidates

    data_dir = args.data_dir or default_data_dir()
    identity = load_or_create_identity(data_dir)
    relays = args.relay or local_host_candidates(_hosted_port(data_dir))
    if not relays:
        raise CliFailure("this machine has no network address others can reach; give --relay", EXIT_USAGE)
    link = format_invite(Invite(identity.fingerprint, tuple(relays[:8]), identity.alias))
    print(json.dumps({"invite": link}), flush=True)
    return EXIT_OK


async def cmd_nearby(args: argparse.Namespace, printer: Printer) -> int:
    from app.lan.nearby import Nearby

    identity = load_or_create_identity(args.data_dir or default_data_dir())
    nearby = Nearby(identity.fingerprint, identity.alias, [], announce=False)
    await nearby.start()
    try:
        await asyncio.sleep(max(0.0, args.wait))  # listening for announcements is the job here
    finally:
        peers = nearby.peers()
        await nearby.stop()
    for peer in peers:
        print(json.dumps(peer.to_dict()), flush=True)
    return EXIT_OK


def cmd_id(args: argparse.Namespace, printer: Printer) -> int:
    identity = load_or_create_identity(args.data_dir or default_data_dir())
    print(json.dumps({"fingerprint": identity.fingerprint, "alias": identity.alias}), flush=True)
    return EXIT_OK


def _block_list(data_dir: Path) -> BlockList:
    try:
        return BlockList(open_database(data_dir))
    except DatabaseError as exc:
        raise CliFailure(str(exc)) from exc


def cmd_block(args: argparse.Namespace, printer: Printer) -> int:
    blocks = _block_list(args.data_dir or default_data_dir())
    try:
        if args.command == "block":
            printer.line({"event": "blocked", "fingerprint": blocks.block(args.fingerprint)})
        elif args.command == "unblock":
            blocks.unblock(args.fingerprint)
            printer.line({"event": "unblocked", "fingerprint": parse_fingerprint(args.fingerprint)})
        else:
            for fingerprint in blocks.all():
                printer.line({"event": "blocked", "fingerprint": fingerprint})
    except ValueError as exc:
        raise CliFailure(str(exc), EXIT_USAGE) from exc
    return EXIT_OK


def cmd_devices(args: argparse.Namespace, printer: Printer) -> int:
    from app.media.audio_devices import AudioDeviceError, list_devices

    try:
        devices = list_devices()
    except AudioDeviceError as exc:
        raise CliFailure(str(exc)) from exc
    for d in devices:
        printer.line(
            {
                "event": "device",
                "index": d.index,
                "name": d.name,
                "inputs": d.inputs,
                "outputs": d.outputs,
                "default_input": d.is_default_input,
                "default_output": d.is_default_output,
            }
        )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose
        else logging.INFO
        if args.command not in ("id", "invite")
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("quic").setLevel(logging.WARNING)  # aioquic's per-connection chatter
    printer = Printer(args.json)
    try:
        if args.command == "id":
            return cmd_id(args, printer)
        if args.command == "devices":
            return cmd_devices(args, printer)
        if args.command in ("block", "unblock", "blocked"):
            return cmd_block(args, printer)
        if args.command == "invite":
            return cmd_invite(args, printer)
        runner = {"call": cmd_call, "listen": cmd_listen, "nat": cmd_nat, "nearby": cmd_nearby}[args.command]
        return asyncio.run(runner(args, printer))
    except CliFailure as exc:
        print(f"wzp-cli: {exc}", file=sys.stderr)
        return exc.code
    except IdentityFileError as exc:
        print(f"wzp-cli: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CodecError as exc:  # the start-up check of the Opus library (app.media.opus_probe)
        print(f"wzp-cli: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
