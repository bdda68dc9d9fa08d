"""``python -m tools.devhost``: serve the FunctionApp like `func start` (see README.md)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from tools.devhost import blobevents, storagestats
from tools.devhost.host import DevHost, Options
from tools.devhost.queuetrigger import DEFAULT_LEASE_SECONDS


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.devhost", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the app")
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument(
        "--state", type=Path, default=Path(".devhost"), help="folder for devhost.json"
    )
    parser.add_argument("--poll-interval", type=float, default=2.0, help="blob scan period (s)")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="wait before a retry (s)")
    parser.add_argument("--lease-seconds", type=int, default=15, choices=range(15, 61),
                        metavar="15-60", help="receipt lease duration")  # fmt: skip
    polling = parser.add_mutually_exclusive_group()
    polling.add_argument(
        "--eventgrid-polling",
        action="store_true",
        help="also poll EventGrid-source blob triggers (with receipts; not what Azure does: "
        "there, blobs that existed before the subscription are never processed)",
    )
    polling.add_argument(
        "--no-eventgrid-polling",
        action="store_true",
        help="the default: EventGrid-source blob triggers run only from webhook events",
    )
    parser.add_argument(
        "--queue-poll-interval",
        type=float,
        default=None,
        help="longest wait between queue polls (s); default: host.json "
        "extensions.queues.maxPollingInterval, else 2 s as `func start`",
    )
    parser.add_argument(
        "--queue-lease-seconds",
        type=float,
        default=DEFAULT_LEASE_SECONDS,
        help="how long a received message stays invisible while its function runs "
        "(renewed at half time); a message of a killed host reappears after it",
    )
    parser.add_argument(
        "--blob-events",
        default=None,
        help="emulate Event Grid BlobCreated subscriptions to storage queues: "
        "<connection>:<container prefix>:<queue>[;...] (default: $DEVHOST_BLOB_EVENTS)",
    )
    parser.add_argument("--shutdown-timeout", type=float, default=30.0)
    parser.add_argument("--host-id", default=None, help="receipt namespace (default: derived)")
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="app settings file like `func start` reads ('' to skip); the environment wins",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _banner(host: DevHost) -> None:
    base = f"http://{host.options.bind}:{host.port}"
    prefix = f"/{host.config.route_prefix}" if host.config.route_prefix else ""
    lines = [f"FaceGate dev host (stand-in for `func start`) on {base}", "Functions:"]
    for route in host.routes:
        spec = route.target
        methods = ",".join(sorted(route.methods)) if route.methods else "ALL"
        level = spec.trigger.get("authLevel", "FUNCTION")
        lines.append(f"  {spec.name}: [{methods}] {base}{prefix}/{route.template}  ({level})")
    for name, runner in host.blob_runners.items():
        how = "polling" if runner.poll else "webhook only"
        lines.append(
            f"  {name}: blobTrigger {runner.spec.trigger['path']} ({runner.source}, {how})"
        )
        if runner.source == "EventGrid":
            lines.append(
                f"    webhook: POST {base}/runtime/webhooks/blobs?"
                f"functionName={runner.spec.function_id}&code=<master key>"
            )
    for name, queue in host.queue_runners.items():
        poison = f"poison: {queue.poison_name}" if queue.poison_name else "no poison queue"
        lines.append(
            f"  {name}: queueTrigger {queue.queue_name} (connection {queue.connection}, {poison})"
        )
    for timer in host.timers:
        lines.append(f"  {timer.spec.name}: timerTrigger '{timer.expression}'")
    for source in host.event_sources:
        sub = source.subscription
        lines.append(
            f"Blob events: BlobCreated in containers {sub.prefix}* ({sub.connection}) "
            f"-> queue {sub.queue} (Event Grid emulated)"
        )
    lines.append(f"Function key (x-functions-key or ?code=): {host.keys.function}")
    lines.append(f"Master key (ADMIN functions, webhooks):  {host.keys.master}")
    print("\n".join(lines), flush=True)


def _load_settings(path: Path) -> int:
    """Put local.settings.json ``Values`` into the environment (existing variables win)."""
    if not str(path) or str(path) == "." or not path.is_file():
        return 0
    values = json.loads(path.read_text()).get("Values", {})
    added = 0
    for name, value in values.items():
        if name not in os.environ:
            os.environ[name] = str(value)
            added += 1
    return added


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _load_settings(args.settings)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    storagestats.install_from_env()  # DEVHOST_STORAGE_STATS: round trips for bench/
    options = Options(
        app=args.app,
        host_json=args.host_json,
        bind=args.host,
        port=args.port,
        poll_interval=args.poll_interval,
        retry_delay=args.retry_delay,
        lease_seconds=args.lease_seconds,
        eventgrid_polling=args.eventgrid_polling,
        queue_lease_seconds=args.queue_lease_seconds,
        queue_poll_interval=args.queue_poll_interval,
        shutdown_timeout=args.shutdown_timeout,
        state_dir=args.state,
        host_id=args.host_id,
        blob_events=tuple(
            blobevents.parse_all(
                args.blob_events
                if args.blob_events is not None
                else os.environ.get("DEVHOST_BLOB_EVENTS", "")
            )
        ),
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("devhost").info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    host = DevHost(options)
    host.start()
    _banner(host)
    while not stop.wait(0.5):
        pass
    host.stop()
    logging.getLogger("devhost").info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
