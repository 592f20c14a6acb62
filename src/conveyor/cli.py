"""The `conveyor` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor import __version__

if TYPE_CHECKING:
    from conveyor.config import Config
    from conveyor.control import Credentials


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default 127.0.0.1; env CONVEYOR_HOST)")
    parser.add_argument("--port", type=int, help="port (default 4566; env CONVEYOR_PORT)")
    parser.add_argument("--data-dir", help="where state lives (env CONVEYOR_DATA_DIR)")
    parser.add_argument("--account-id", help="account id (default 000000000000; env CONVEYOR_ACCOUNT_ID)")
    parser.add_argument("--region", help="default region (default us-east-1; env CONVEYOR_REGION)")
    parser.add_argument("--access-key", help="access key id (default test; env CONVEYOR_ACCESS_KEY_ID)")
    parser.add_argument("--secret-key", help="secret key (default test; env CONVEYOR_SECRET_ACCESS_KEY)")
    parser.add_argument("--auth", choices=["off", "sigv4"],
                        help="verify SigV4 signatures (default: off on loopback, required elsewhere)")
    parser.add_argument("--iam", choices=["off", "report", "enforce"],
                        help="IAM policies: off (default), report (log what would be denied) or enforce "
                        "(env CONVEYOR_IAM)")
    parser.add_argument("--clock", choices=["system", "manual"],
                        help="manual: time moves only via POST /_conveyor/clock (for tests)")
    parser.add_argument("--log-requests", action="store_true", help="log one line per request")
    parser.add_argument("--dns-port", type=int,
                        help="Route 53's DNS server, UDP and TCP (default 10053; 0: any free port; -1: none; "
                        "env CONVEYOR_DNS_PORT)")
    parser.add_argument("--dns-client-region",
                        help="where the DNS server's clients are, for latency and geolocation records (default: "
                        "--region; env CONVEYOR_DNS_CLIENT_REGION)")
    parser.add_argument("--max-connections", type=int,
                        help="open connections served at once (default 1024; env CONVEYOR_MAX_CONNECTIONS)")


def _config(args: argparse.Namespace) -> Config:  # the import stays lazy for a fast --help
    from conveyor.config import Config

    overrides = {
        "host": args.host, "port": args.port, "data_dir": args.data_dir, "account_id": args.account_id,
        "region": args.region, "access_key": args.access_key, "secret_key": args.secret_key,
        "auth": args.auth, "iam": args.iam, "clock": args.clock, "max_connections": args.max_connections,
        "dns_port": getattr(args, "dns_port", None), "dns_client_region": getattr(args, "dns_client_region", None),
    }
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    if args.log_requests:
        kwargs["log_requests"] = True
    return Config(**kwargs)


def _pipeline_path(args: argparse.Namespace) -> Path | None:
    """--pipeline FILE, else ./conveyor.yaml if present, else None (the embedded default)."""
    if getattr(args, "pipeline", None):
        return Path(args.pipeline)
    local = Path("conveyor.yaml")
    return local if local.exists() else None


def cmd_up(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
        if config.tls:  # a first start's certificate is made while the server imports and builds itself
            from conveyor.gateway.tls import begin_certificate

            begin_certificate(config.tls_dir)
        pipeline = None
        if not args.bare:  # the pipeline's reader (and YAML's) only when there is a pipeline to read
            from conveyor.pipeline.spec import load

            pipeline = load(_pipeline_path(args))
    except ValueError as exc:  # PipelineError is one

        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    region = config.region
    if pipeline is not None:
        from conveyor.pipeline.spec import pipeline_region

        region = pipeline_region(pipeline, config.region)
    logging.basicConfig(level=logging.INFO if config.log_requests else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from conveyor.app import App
    from conveyor.server import serve

    started = time.perf_counter()
    app = App(config)
    # Workers' output, as in their own terminal: a read's worth of lines at a time, each indented.
    app.pools.echo = lambda text: print("  " + text.replace("\n", "\n  "), flush=True)
    app.ready = pipeline is None  # until the pipeline is applied
    # A wildcard bind address is not somewhere a client can connect to: show the loopback one.
    client_host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(config.host, config.host)
    if ":" in client_host:
        client_host = f"[{client_host}]"
    endpoint = f"http://{client_host}:{config.port}"

    def ready() -> None:
        elapsed = (time.perf_counter() - started) * 1000
        print(
            f"Conveyor {__version__} ready on {endpoint} in {elapsed:.0f} ms "
            f"(services: {', '.join(app.services.names())}; data: {config.data_dir}; auth: {config.auth}; iam: {config.iam})\n"
            f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID={config.access_key} "
            f"AWS_SECRET_ACCESS_KEY={config.secret_key} AWS_DEFAULT_REGION={region}\n"
            f"  boto3 and AWS CLI v2 read AWS_ENDPOINT_URL; with AWS CLI v1 use "
            f"`aws --endpoint-url {endpoint} ...` or `conveyor aws ...`\n"
            f"{_https_lines(config, client_host)}"
            f"{_dns_line(app)}"
            f"  Ctrl-C to stop.",
            flush=True,
        )
        if pipeline is not None:
            threading.Thread(target=_apply_on_start, args=(app, pipeline, endpoint, config, region),
                             daemon=True).start()

    def stopping(deadline: float) -> None:
        if app.pools.worker_pids():
            print(f"Stopping: workers finish what they are doing first (at most {deadline:.0f} s; "
                  "Ctrl-C again to stop at once).", flush=True)

    try:
        serve(app, on_ready=ready, on_stopping=stopping)
    except OSError as exc:
        print(f"conveyor: could not serve on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # the data directory is in use
        print(f"conveyor: {exc}", file=sys.stderr)
        return 1
    print("Conveyor stopped.", flush=True)
    return 0


def _dns_line(app: Any) -> str:
    """Where Route 53's DNS server answers (or why it does not)."""
    route53 = app.services.get("route53")
    door = app.env.doors.get("route53")  # its port, held until Route 53 starts on first use
    if route53 is None and door is None:
        return ""
    status = route53.health() if route53 is not None else door.status()
    if status.get("dns_port"):
        return f"  DNS for Route 53's hosted zones: dig @{status['dns_host']} -p {status['dns_port']} NAME\n"
    return f"  DNS for Route 53's hosted zones: not served ({status.get('dns_error', 'disabled')})\n"


def _https_lines(config: Config, client_host: str) -> str:
    """Where HTTPS is served (the same port) and how a client trusts the local CA's certificate."""
    if not config.tls:
        return ""
    ca = config.tls_dir / "ca.pem"
    return (f"  HTTPS on the same port: https://{client_host}:{config.port} (CA: {ca})\n"
            f"    trust it: export AWS_CA_BUNDLE={ca}   curl --cacert {ca} ...\n")


def _apply_on_start(app: Any, pipeline: Any, endpoint: str, config: Any, region: str) -> None:
    from conveyor.pipeline.apply import Applier

    host = endpoint.replace("://0.0.0.0:", "://127.0.0.1:")
    try:
        report = Applier(host, config.access_key, config.secret_key, region).apply(pipeline)
    except Exception as exc:
        print(f"conveyor: applying {pipeline.source} failed: {exc}", file=sys.stderr, flush=True)
        return
    finally:
        app.ready = True
    for line in report.lines():
        print(f"  pipeline: {line}", flush=True)


def _server_region(args: argparse.Namespace) -> str:
    """The default region of the server at --endpoint (its --region), us-east-1 if it does not say."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{_endpoint(args)}/_conveyor/health", timeout=10) as response:
            return str(json.load(response).get("region") or "us-east-1")
    except (urllib.error.URLError, OSError, ValueError):
        return "us-east-1"


def cmd_apply(args: argparse.Namespace) -> int:
    from conveyor.pipeline.apply import Applier
    from conveyor.pipeline.spec import PipelineError, load, pipeline_region

    try:
        pipeline = load(_pipeline_path(args))
    except PipelineError as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    creds = _credentials(args)
    try:
        region = pipeline_region(pipeline, _server_region(args))
        report = Applier(_endpoint(args), creds.access_key, creds.secret_key, region,
                         log=lambda line: None).apply(pipeline)
    except Exception as exc:
        print(f"conveyor: apply failed: {exc}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from conveyor.pipeline.spec import DEFAULT_FILE

    target = Path(args.file)
    if target.exists() and not args.force:
        print(f"conveyor: {target} already exists (use --force to overwrite)", file=sys.stderr)
        return 1
    target.write_text(DEFAULT_FILE.read_text())
    print(f"wrote {target}: edit it, then `conveyor up` (or `conveyor apply` on a running server)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from conveyor.pipeline.export import command

    return command(_pipeline_path(args), args.output, args.artifacts)


def cmd_deploy(args: argparse.Namespace) -> int:
    from conveyor.stack_deploy import command

    creds = _credentials(args)
    return command(args, _pipeline_path(args), _endpoint(args), creds.access_key, creds.secret_key, creds.region)


def _endpoint(args: argparse.Namespace) -> str:
    return args.endpoint or os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:4566"


def _credentials(args: argparse.Namespace) -> Credentials:
    from conveyor.control import resolve_credentials

    return resolve_credentials(getattr(args, "access_key", None), getattr(args, "secret_key", None),
                               getattr(args, "region", None))


def cmd_aws(args: argparse.Namespace, rest: list[str]) -> int:
    """Run the AWS CLI against Conveyor, like LocalStack's awslocal."""
    env = dict(os.environ)
    creds = _credentials(args)
    if not (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")):
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = creds.access_key, creds.secret_key
    env.setdefault("AWS_DEFAULT_REGION", creds.region)
    import subprocess

    try:
        return subprocess.call(["aws", "--endpoint-url", _endpoint(args), *rest], env=env)
    except FileNotFoundError:
        print("conveyor: the AWS CLI (`aws`) is not installed: pip install awscli", file=sys.stderr)
        return 127


def cmd_health(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{_endpoint(args)}/_conveyor/health", timeout=5) as response:
            print(json.dumps(json.load(response), indent=2))
            return 0
    except (urllib.error.URLError, OSError) as exc:
        print(f"conveyor: no server at {_endpoint(args)} ({exc})", file=sys.stderr)
        return 1


def _call(args: argparse.Namespace, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """A signed call to the server's own API (see conveyor.control)."""
    from conveyor.control import ControlClient, ControlError

    try:
        return ControlClient(_endpoint(args), _credentials(args)).call(method, path, payload)
    except ControlError as exc:
        raise SystemExit(f"conveyor: {exc.message}")


def cmd_workers(args: argparse.Namespace) -> int:
    if args.action == "kill":
        if len(args.rest) != 1:
            raise SystemExit("usage: conveyor workers kill WORKER_ID")
        _call(args, "POST", f"workers/{args.rest[0]}/kill")
        print(f"killed {args.rest[0]} (SIGKILL); its pool will replace it")
        return 0
    if args.action == "scale":
        if len(args.rest) != 2 or not args.rest[1].isdigit():
            raise SystemExit("usage: conveyor workers scale POOL N")
        pool: Any = _call(args, "POST", f"pools/{args.rest[0]}/scale", {"desired": int(args.rest[1])})
        held = (f" (held for the scale-in cooldown, {pool['spec']['scale_in_cooldown']:g} s, then target "
                f"tracking resumes)") if pool["spec"]["queue"] else ""
        print(f"pool {args.rest[0]}: desired capacity {args.rest[1]}{held}")
        return 0
    workers = _call(args, "GET", "workers")
    if args.json:
        print(json.dumps(workers, indent=2))
        return 0
    pools: Any = _call(args, "GET", "pools")
    print(f"{'POOL':<20} {'REGION':<14} {'DESIRED':>7} {'RUNNING':>7}  STATE")
    for name, pool in pools.items():
        state = pool.get("state", "ok")
        if state == "crash-looping":  # the workers keep dying at start: say so, and when the next try is
            loop = pool["crash_loop"]
            state += f" ({loop['quick_exits']} quick exits in a row, next start in {loop['next_start_in']:g} s)"
        elif state == "blocked":  # no worker can start: its role cannot be assumed
            state += f" ({pool.get('launch_problem')})"
        elif pool.get("manual_hold"):
            state += f" (desired set by hand, held {pool['manual_hold']:.0f} s more)"
        running = sum(w["state"] in ("starting", "in-service") for w in pool["workers"])
        print(f"{name:<20} {pool.get('region') or '-':<14} {pool['desired']:>7} {running:>7}  {state}")
    print()
    print(f"{'ID':<20} {'POOL':<12} {'PID':>7} {'STATE':<12} {'UPTIME':>8} {'DONE':>6}")
    for w in workers:
        print(f"{w['id']:<20} {w['pool']:<12} {w['pid']:>7} {w['state']:<12} {w['uptime']:>7.0f}s "
              f"{w['messages_done']:>6}")
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    """Outage drills: take a region down (its APIs answer 503, its load balancers refuse) and bring it back."""
    stamp = time.strftime("%H:%M:%S")
    if args.action == "watch":
        from conveyor.control import ControlClient
        from conveyor.drill_watch import watch

        print("watching Route 53 health checks and failover answers (times are the server's clock, UTC)",
              flush=True)
        from botocore.exceptions import BotoCoreError, ClientError

        from conveyor.control import ControlError

        if args.interval <= 0 or (args.seconds is not None and args.seconds < 0):
            raise SystemExit("conveyor: --interval must be above 0 and --seconds not below 0")
        try:
            watch(ControlClient(_endpoint(args), _credentials(args)), args.seconds, args.interval,
                  lambda line: print(line, flush=True))
        except ControlError as exc:
            raise SystemExit(f"conveyor: {exc.message}")
        except (BotoCoreError, ClientError) as exc:  # Route 53's API refused or could not be reached
            raise SystemExit(f"conveyor: {exc}")
        return 0
    if args.action == "regions":
        down: Any = _call(args, "GET", "regions")
        for region, since in sorted(down["down"].items()):
            print(f"{region}: down for {down['now'] - since:.0f} s")
        if not down["down"]:
            print("every region is up")
        return 0
    if not args.region:
        raise SystemExit(f"usage: conveyor drill {args.action} REGION")
    if args.action == "region-down":
        answer: Any = _call(args, "POST", f"regions/{args.region}/down")
        already = answer["now"] - answer["down_since"]
        print(f"{stamp} region {args.region} is down" + (f" (for {already:.0f} s already)" if already > 0 else "")
              + ": its APIs answer 503 ServiceUnavailable and its load balancers and HTTP APIs refuse, "
              "until `conveyor drill region-up " + args.region + "`; IAM, CloudFront and Route 53 answer on; "
              "`conveyor drill watch` shows which health checks and failover answers move, and when")
        return 0
    answer = _call(args, "POST", f"regions/{args.region}/up")
    if answer["was_down_since"] is None:
        print(f"{stamp} region {args.region} was not down")
    else:
        print(f"{stamp} region {args.region} is up again after {answer['now'] - answer['was_down_since']:.0f} s "
              f"down; nothing was lost")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from conveyor.status import buckets, render

    status = _call(args, "GET", "status")
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(render(status, buckets(_endpoint(args), _credentials(args))))
    return 0


def cmd_functions(args: argparse.Namespace) -> int:
    functions = _call(args, "GET", "functions")
    if args.json:
        print(json.dumps(functions, indent=2))
        return 0
    print(f"{'FUNCTION':<24} {'RUNTIME':<12} {'BUSY':>4} {'IDLE':>4} {'PEAK':>4} {'COLD':>5} {'INVOKES':>8}  MAPPINGS")
    for f in functions:
        maps = ", ".join(f"{m['queue'].rsplit(':', 1)[-1]}: {m['pollers']} pollers, {m['concurrency']} busy "
                         f"(peak {m['peak']}, cap {m['cap']}){'' if m['enabled'] else ' disabled'}"
                         for m in f["mappings"]) or "-"
        print(f"{f['name']:<24} {f['runtime']:<12} {f['busy']:>4} {f['idle']:>4} {f['peak']:>4} "
              f"{f['cold_starts']:>5} {f['invocations']:>8}  {maps}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    """Print a log group's events, from CloudWatch Logs (a function's /aws/lambda/NAME, a pool's
    /conveyor/pools/NAME, or any group named with its leading /); --follow keeps printing new ones."""
    from urllib.parse import quote

    if args.pool:
        query = f"group={quote('/conveyor/pools/' + args.name, safe='')}"
    elif args.name.startswith("/"):
        query = f"group={quote(args.name, safe='')}"
    else:
        query = f"function={quote(args.name, safe='')}"
    doc: Any = _call(args, "GET", f"logs?{query}&lines={args.lines}")
    _print_events(doc["events"])
    deadline = time.monotonic() + args.for_seconds if args.for_seconds else None
    try:
        while args.follow and (deadline is None or time.monotonic() < deadline):
            wait = 20 if deadline is None else max(0.0, min(20, deadline - time.monotonic()))
            doc = _call(args, "GET", f"logs?{query}&after={doc['after']}&wait={wait:.1f}")
            _print_events(doc["events"])
    except KeyboardInterrupt:
        pass
    return 0


def _print_events(events: list[dict[str, Any]]) -> None:
    for event in events:
        print(event["message"], flush=True)


def cmd_ui(args: argparse.Namespace) -> int:
    """Print (and open) the dashboard's URL. A server that checks signatures gets a signed request for a
    one-time login token, which the browser exchanges for a session cookie (conveyor.dashboard.sessions)."""
    import urllib.error
    import urllib.request
    import webbrowser

    endpoint = _endpoint(args).rstrip("/")
    try:
        with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
            auth = json.load(response).get("auth")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"conveyor: no server at {endpoint} ({exc})", file=sys.stderr)
        return 1
    if auth == "sigv4":
        doc: Any = _call(args, "POST", "ui/token")
        url = endpoint + doc["path"]
        print(f"Dashboard: {url}\n  (a one-time login link: it works once, within two minutes)", flush=True)
    else:
        url = f"{endpoint}/_conveyor/ui"
        print(f"Dashboard: {url}", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from conveyor.demo import main as demo

    return demo()


def _client_options(parser: argparse.ArgumentParser) -> None:
    """Where the server is and the credentials to sign with (a server with --auth sigv4 checks them)."""
    parser.add_argument("--endpoint", help="server URL (default $AWS_ENDPOINT_URL or http://127.0.0.1:4566)")
    parser.add_argument("--access-key", help="access key id to sign with (default $CONVEYOR_ACCESS_KEY_ID, "
                        "$AWS_ACCESS_KEY_ID or test)")
    parser.add_argument("--secret-key", help="secret key to sign with (default $CONVEYOR_SECRET_ACCESS_KEY, "
                        "$AWS_SECRET_ACCESS_KEY or test)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conveyor", description="S3, SNS, SQS and workers on one machine.")
    parser.add_argument("--version", action="version", version=f"conveyor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="serve in the foreground")
    _server_options(up)
    up.add_argument("--pipeline", help="pipeline file (default ./conveyor.yaml, else the built-in default)")
    up.add_argument("--bare", action="store_true", help="serve the APIs only, apply no pipeline")
    up.set_defaults(func=cmd_up)
    apply = sub.add_parser("apply", help="apply a pipeline file to a running server")
    apply.add_argument("--pipeline", help="pipeline file (default ./conveyor.yaml, else the built-in default)")
    _client_options(apply)
    apply.set_defaults(func=cmd_apply)
    init = sub.add_parser("init", help="write the default pipeline file to edit")
    init.add_argument("file", nargs="?", default="conveyor.yaml")
    init.add_argument("--force", action="store_true")
    init.set_defaults(func=cmd_init)
    exporting = sub.add_parser("export", help="the pipeline file as a CloudFormation template (deploys to AWS too)")
    exporting.add_argument("--pipeline", help="pipeline file (default ./conveyor.yaml, else the built-in default)")
    exporting.add_argument("-o", "--output", help="write the template here (default: standard output)")
    exporting.add_argument("--artifacts", metavar="DIR",
                           help="write the code packages the template names (conveyor/*.zip) under DIR")
    exporting.set_defaults(func=cmd_export)
    deploying = sub.add_parser("deploy", help="package and deploy a template (or the pipeline file) as a stack",
                               description="Against Conveyor by default; `--endpoint aws` deploys to AWS itself "
                                           "with your own credentials and region.")
    deploying.add_argument("template", nargs="?", help="template file (default: the pipeline file, exported)")
    deploying.add_argument("--stack", required=True, help="the stack's name")
    deploying.add_argument("--pipeline", help="pipeline file (default ./conveyor.yaml, else the built-in default)")
    deploying.add_argument("--parameters", nargs="*", metavar="KEY=VALUE", help="the template's parameters")
    deploying.add_argument("--code-bucket", help="the bucket local code is packaged to (default: the CodeBucket "
                                                 "parameter)")
    deploying.add_argument("--capabilities", nargs="*", help="default CAPABILITY_IAM CAPABILITY_AUTO_EXPAND")
    _client_options(deploying)
    deploying.set_defaults(func=cmd_deploy)
    health = sub.add_parser("health", help="show a running server's health")
    health.add_argument("--endpoint", help="server URL (default $AWS_ENDPOINT_URL or http://127.0.0.1:4566)")
    health.set_defaults(func=cmd_health)
    workers = sub.add_parser("workers", help="list pool workers; `workers kill ID`; `workers scale POOL N`")
    workers.add_argument("action", nargs="?", choices=["list", "kill", "scale"], default="list")
    workers.add_argument("rest", nargs="*")
    workers.add_argument("--json", action="store_true", help="machine-readable output")
    _client_options(workers)
    workers.set_defaults(func=cmd_workers)
    functions = sub.add_parser("functions", help="functions: concurrency, cold starts, event source mappings")
    functions.add_argument("--json", action="store_true", help="machine-readable output")
    _client_options(functions)
    functions.set_defaults(func=cmd_functions)
    logs = sub.add_parser("logs", help="print a function's log (CloudWatch Logs); -f to follow it")
    logs.add_argument("name", help="a function, a pool with --pool, or a log group (/aws/lambda/NAME)")
    logs.add_argument("--pool", action="store_true", help="NAME is a worker pool: its /conveyor/pools/NAME group")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing what the function logs")
    logs.add_argument("-n", "--lines", type=int, default=50, help="events of history to start with (default 50)")
    logs.add_argument("--for", dest="for_seconds", type=float, help="stop following after this many seconds")
    _client_options(logs)
    logs.set_defaults(func=cmd_logs)
    ui = sub.add_parser("ui", help="open the live dashboard in a browser (prints its URL)")
    ui.add_argument("--no-browser", action="store_true", help="only print the URL")
    _client_options(ui)
    ui.set_defaults(func=cmd_ui)
    demo = sub.add_parser("demo", help="a self-contained, verified run of the whole story")
    demo.set_defaults(func=cmd_demo)
    status = sub.add_parser("status", help="queues, workers, functions, objects and recent errors")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _client_options(status)
    status.set_defaults(func=cmd_status)
    drill = sub.add_parser("drill", help="outage drills: `drill region-down REGION`, `drill region-up REGION`, "
                           "`drill watch` (what moved, and when)")
    drill.add_argument("action", choices=["region-down", "region-up", "regions", "watch"])
    drill.add_argument("region", nargs="?")
    drill.add_argument("--seconds", type=float, help="watch: stop after this many seconds (default: until Ctrl-C)")
    drill.add_argument("--interval", type=float, default=0.5, help="watch: seconds between looks (default 0.5)")
    _client_options(drill)
    drill.set_defaults(func=cmd_drill)
    aws = sub.add_parser("aws", help="the AWS CLI pointed at Conveyor (`conveyor aws sqs list-queues`)",
                         add_help=False)
    aws.add_argument("--endpoint", help=argparse.SUPPRESS)
    aws.set_defaults(func=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "aws":
        args, rest = parser.parse_known_args(argv)
        return cmd_aws(args, rest)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # `conveyor workers | head`: the reader left; say nothing more (Python's own advice: point stdout at
        # devnull so the interpreter's final flush does not fail again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command its pipe's reader left


if __name__ == "__main__":
    sys.exit(main())
