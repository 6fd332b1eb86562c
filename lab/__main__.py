"""python -m lab COMMAND: the lab's command line (the Makefile's lab-* targets call it)."""
import argparse
import json
import sys

from lab import cluster, faults, load, vm, witness
from lab.config import LabError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build images if needed, bring up or adopt the lab")
    commands.add_parser("down", help="remove containers, network and volumes; keep images")
    status = commands.add_parser("status", help="containers, kernels, members and faults")
    status.add_argument("--json", action="store_true")
    fault = commands.add_parser("fault", help="inject a fault into one host",
                                epilog="faults:\n" + faults.describe(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    fault.add_argument("host")
    fault.add_argument("fault")
    fault.add_argument("--seconds", type=float, default=20,
                       help="slow_boot: boot time; slow_install, unattended_upgrade_running: the time added")
    fault.add_argument("--period", type=int, default=20, help="flapping: seconds between freezes")
    fault.add_argument("--freeze", type=int, default=4, help="flapping: seconds frozen")
    fault.add_argument("--count", type=int, default=3, help="runtime_timeouts: how many timeouts containerd logs")
    clear = commands.add_parser("clear", help="clear one fault of a host, or all")
    clear.add_argument("host")
    clear.add_argument("fault", nargs="?", default="all")
    reboot = commands.add_parser("reboot", help="reboot a master as the kit does")
    reboot.add_argument("host")
    reboot.add_argument("--no-wait", action="store_true")
    writer = commands.add_parser("writer", help="write sequenced keys at a fixed rate")
    writer.add_argument("--rate", type=float, default=50.0, help="writes per second")
    writer.add_argument("--duration", type=float, default=0, help="seconds; 0 = until SIGTERM")
    writer.add_argument("--out", required=True)
    monitor = commands.add_parser("monitor", help="sample every member's health and leader")
    monitor.add_argument("--interval", type=float, default=0.2)
    monitor.add_argument("--duration", type=float, default=0, help="seconds; 0 = until SIGTERM")
    monitor.add_argument("--out", required=True)
    monitor.add_argument("--cluster", choices=["main", "events"], default="main",
                         help="the etcd cluster to watch (events: kubespray's etcd-events, LAB_EVENTS=1)")
    witness_parser = commands.add_parser("witness", help="start or stop writer and monitor in the background")
    witness_parser.add_argument("action", choices=["start", "stop"])
    witness_parser.add_argument("--rate", type=float, default=50.0)
    commands.add_parser("reset", help="a fresh lab: down, then up (masters on 5.4.0-132)")
    vm_parser = commands.add_parser("vm", help="the real-kernel VM: build its image, start, stop, show it")
    vm_parser.add_argument("action", choices=["build", "up", "down", "status"])
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            cluster.up()
        elif args.command == "down":
            cluster.down()
        elif args.command == "reset":
            cluster.down()
            cluster.up()
        elif args.command == "vm":
            if args.action == "build":
                print(vm.ensure_image())
            elif args.action == "up":
                vm.up()
            elif args.action == "down":
                vm.down()
            else:
                print(json.dumps(vm.status(), indent=2))
        elif args.command == "witness":
            config = cluster.current_config()
            if args.action == "start":
                outputs = witness.start(config, rate=args.rate)
                print("witnesses started: %s" % ", ".join(outputs.values()))
            else:
                reports = witness.stop(config)
                writer = reports.get("writer", {})
                summary = {"writer": {k: writer.get(k) for k in (
                    "attempted", "acked", "failed", "lost", "failovers", "latency_ms")}}
                for name in ("monitor", witness.EVENTS_MONITOR):
                    if name in reports:
                        summary[name] = {k: reports[name].get(k) for k in (
                            "sample_count", "max_down", "seconds_without_quorum", "leader_changes", "downtime_s")}
                print(json.dumps(summary, indent=2))
        elif args.command == "status":
            report = cluster.status()
            print(json.dumps(report, indent=2)) if args.json else cluster.print_status(report)
            return 0 if report["healthy"] else 1
        elif args.command == "fault":
            config = cluster.current_config()
            faults.inject(config, args.host, args.fault, seconds=args.seconds,
                          period=args.period, freeze=args.freeze, count=args.count)
            print("%s: %s injected (%s)" % (args.host, args.fault, faults.FAULTS[args.fault]))
        elif args.command == "clear":
            config = cluster.current_config()
            faults.clear(config, args.host, args.fault)
            print("%s: %s cleared" % (args.host, args.fault))
        elif args.command == "reboot":
            config = cluster.current_config()
            faults.check(config, args.host, "all", allow_all=True)
            boot_id = cluster.reboot(config, args.host, wait=not args.no_wait)
            print("%s rebooted%s" % (args.host, ", boot id %s" % boot_id if boot_id else ""))
        elif args.command == "writer":
            config = cluster.current_config()
            report = load.run_writer([config.client_url(h) for h in config.hosts],
                                     config.client_tls, args.rate, args.duration, args.out)
            print("writer: %(acked)d acked, %(failed)d failed, %(lost)d lost" % report)
        elif args.command == "monitor":
            config = cluster.current_config()
            report = load.run_monitor(config.clusters()[args.cluster], config.client_tls, args.interval,
                                      args.duration, args.out)
            print("monitor: %(sample_count)d samples, max %(max_down)d down, "
                  "%(seconds_without_quorum)ss without quorum" % report)
    except LabError as error:
        print("lab: error: %s" % error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
