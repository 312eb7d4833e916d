"""The daemon's network: the default bridge, one sandbox (network namespace + veth) per container,
their addresses, and the files that tell a container its name and resolvers.

    start()            bridge with its gateway address, firewall rules, state reconciled
    create_sandbox()   "bridge": netns at <exec-root>/netns/<cid>, veth host end on the bridge,
                       eth0 with an address, a MAC derived from it, default route; lo up.
                       "none": netns with lo up only. "host": nothing (netns_path None).
    remove_sandbox()   unmount the netns (the kernel then frees eth0 and the veth pair) and
                       release the address; idempotent
    write_files()      hostname, hosts, resolv.conf into a folder the engine bind-mounts
    networks()         the Engine API's Network JSON for bridge, host and none
    stop()             at daemon stop: closes the netlink socket, removes nothing (live restore)
    teardown()         removes everything: sandboxes, bridge, firewall rules (tests, uninstall)

cleanup_bridge(name) removes a bridge and its rules without a manager (after a crashed daemon).

Every netlink call and namespace switch runs on one worker thread (netlink.py), so any thread may
call these methods, the event loop's included; they block for a few milliseconds.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.network import (
    bridge,
    etcfiles,
    firewall,
    hostroutes,
    inspect,
    ipam,
    netns,
    resolvconf,
    subnets,
    sysctl,
    veth,
)
from dockyard.network.addresses import mac_for_ip, new_id
from dockyard.network.hostlock import host_lock
from dockyard.network.netlink import NetlinkWorker, Rtnl
from dockyard.network.options import NetworkOptions, parse_subnet
from dockyard.network.sandbox import MODES, Sandbox
from dockyard.network.spares import SparePool
from dockyard.network.state import BUILTIN, NetworkState, NetworkStore
from dockyard.util.atomic import write_atomic

log = logging.getLogger("dockyard.network")

_CID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class NetworkManager:
    def __init__(self, data_root: Path, exec_root: Path, options: NetworkOptions | None = None) -> None:
        self.options = options or NetworkOptions()
        self.options.validate()
        self.state_path = Path(data_root) / "network" / "ipam.db"
        self.netns_dir = Path(exec_root) / "netns"
        self._lock = threading.Lock()
        self._worker: NetlinkWorker | None = None
        self._bridge_index = 0
        self._gateway: ipaddress.IPv4Interface | None = None
        self._store: NetworkStore | None = None
        self._spares: SparePool | None = None
        self.state = NetworkState()

    # ------------------------------------------------------------------ daemon lifecycle

    def start(self) -> None:
        """Bridge, address, firewall rules, state reconciled with what the host has; idempotent."""
        with self._lock:
            store = self._open_store()
            if self._worker is None:
                self._worker = NetlinkWorker()
            worker = self._worker
            name = self.options.bridge
            with host_lock():
                gateway = worker.run(self._choose_gateway, worker.ipr)
                self._bridge_index = worker.run(bridge.ensure, worker.ipr, name, self.options.mtu, gateway)
                firewall.install(
                    firewall.BridgeRules(name, gateway.network, self.options.masquerade, self.options.isolate)
                )
            if self.options.masquerade:
                sysctl.enable_ip_forward()
            netns.share_folder(str(self.netns_dir))
            if self.state.subnet != str(gateway.network) or self.state.bridge != name:
                self.state.last_ip = None
            self._gateway = gateway
            self.state.bridge, self.state.subnet = name, str(gateway.network)
            store.set_meta(bridge=name, subnet=self.state.subnet, last_ip=self.state.last_ip)
            self._drain_spares()
            self._reconcile(worker)
            self._spares = SparePool(worker.sock, self._bridge_index, self.options.mtu)
            worker.post(self._spares.refill)
            log.info("network: bridge %s, subnet %s, gateway %s", name, gateway.network, gateway.ip)

    def stop(self) -> None:
        """Close the netlink socket and its thread. The bridge, its rules and every sandbox stay:
        containers keep running across a daemon restart (live restore)."""
        with self._lock:
            self._drain_spares()
            if self._worker is not None:
                self._worker.close()
                self._worker = None
            if self._store is not None:
                self._store.close()
                self._store = None

    def teardown(self) -> None:
        """Remove every sandbox, the bridge and its firewall rules; idempotent, and usable after a
        failed or missing start()."""
        with self._lock:
            self._open_store()
            for cid in list(self.state.sandboxes):
                self._remove_locked(cid)
            self._drain_spares()
            worker = self._worker or NetlinkWorker()
            try:
                with host_lock():
                    firewall.remove(self.options.bridge)
                    worker.run(bridge.delete_link, worker.ipr, self.options.bridge)
            finally:
                worker.close()
                self._worker = None
            netns.unshare_folder(str(self.netns_dir))
            if self._store is not None:
                self._store.close()
                self._store = None

    # ------------------------------------------------------------------ sandboxes

    def create_sandbox(
        self, cid: str, mode: str = "bridge", hostname: str = "", *, mac_address: str | None = None
    ) -> Sandbox:
        """A container's network. A sandbox left for the same ``cid`` (a crash, a reboot) is
        replaced."""
        if not _CID.match(cid):
            raise InvalidArgument(
                f"invalid container id {cid!r} for a network sandbox: use letters and digits"
            )
        network = MODES.get(mode)
        if network is None:
            raise InvalidArgument(
                f"invalid network mode {mode!r}: use bridge, default, none or host "
                "(container:<id> joins that container's sandbox, which the engine looks up)"
            )
        if mac_address is not None and network != "bridge":
            raise InvalidArgument(f"a MAC address ({mac_address}) needs the bridge network, not {mode!r}")
        with self._lock:
            worker = self._started()
            if cid in self.state.sandboxes:
                self._remove_locked(cid)
            sb = Sandbox(
                cid=cid,
                mode=network,
                netns_path=None,
                network_id=self.state.networks[network]["Id"],
                endpoint_id=new_id(),
                sandbox_id=new_id(),
                hostname=hostname,
            )
            if network != "host":
                sb.netns_path = str(self.netns_dir / cid)
                netns.remove(sb.netns_path)  # a stale mount from a crash, or nothing
            if network == "bridge":
                assert self._gateway is not None
                used = {ipaddress.IPv4Address(s.ip) for s in self.state.sandboxes.values() if s.ip}
                last = ipaddress.IPv4Address(self.state.last_ip) if self.state.last_ip else None
                ip = ipam.allocate(self._gateway.network, self._gateway.ip, used, last)
                sb.ip, sb.prefixlen, sb.gateway = (
                    str(ip),
                    self._gateway.network.prefixlen,
                    str(self._gateway.ip),
                )
                sb.mac = _check_mac(mac_address) if mac_address else mac_for_ip(ip)
                self.state.last_ip = str(ip)
            if sb.netns_path is not None:
                worker.run(self._plumb, worker, sb)
                assert self._spares is not None
                worker.post(self._spares.refill)
            self.state.sandboxes[cid] = sb
            assert self._store is not None
            self._store.put_sandbox(sb, self.state.last_ip if network == "bridge" else None)
            return sb

    def remove_sandbox(self, cid: str) -> None:
        """Release the container's address and unmount its namespace; idempotent.

        Call it once the container's processes are gone: the namespace, its eth0 and so the
        host's veth end are freed by the kernel when the last holder lets go.
        """
        with self._lock:
            self._remove_locked(cid)

    def get_sandbox(self, cid: str) -> Sandbox | None:
        with self._lock:
            return self.state.sandboxes.get(cid)

    def sandboxes(self) -> list[Sandbox]:
        with self._lock:
            return list(self.state.sandboxes.values())

    # ------------------------------------------------------------------ files for the container

    def write_files(
        self,
        cid: str,
        sandbox: Sandbox,
        dest_dir: Path,
        hostname: str,
        domainname: str = "",
        dns: Sequence[str] = (),
        extra_hosts: Sequence[str] = (),
        *,
        dns_search: Sequence[str] = (),
        dns_options: Sequence[str] = (),
    ) -> dict[str, Path]:
        """Write hostname, hosts and resolv.conf into ``dest_dir``; returns {container path: file}
        for the engine to bind-mount."""
        host_net = sandbox.network == "host"
        base = _read(self.options.hosts_file) if host_net else etcfiles.DEFAULT_HOSTS
        gateway = sandbox.gateway or (str(self._gateway.ip) if self._gateway else None)
        hosts = etcfiles.hosts(hostname, domainname, sandbox.ip, extra_hosts, gateway, base=base)
        source = resolvconf.host_source(self.options.resolv_conf)
        conf, note = resolvconf.for_container(
            resolvconf.read_host(source), dns, dns_search, dns_options, filter_host=not host_net
        )
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        files = {
            "/etc/hostname": (dest / "hostname", etcfiles.hostname_file(hostname)),
            "/etc/hosts": (dest / "hosts", hosts),
            "/etc/resolv.conf": (dest / "resolv.conf", conf.render(f"From {source}. {note}")),
        }
        for path, text in files.values():
            # No fsync: the engine rewrites these before every start (see state.py on crashes).
            write_atomic(str(path), text.encode(), mode=0o644, sync=False)
        return {target: path for target, (path, _) in files.items()}

    # ------------------------------------------------------------------ the API's view

    def networks(self, container_names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Network JSON of bridge, host and none; Containers lists the sandboxes on each, named
        through ``container_names`` (container id -> name) when given."""
        with self._lock:
            self._open_store()
            sandboxes = list(self.state.sandboxes.values())
            names = container_names or {}
            return [
                inspect.network_json(
                    name,
                    self.state.networks[name],
                    sandboxes,
                    names,
                    bridge=self.options.bridge,
                    gateway=self._gateway,
                    mtu=self.options.mtu,
                    masquerade=self.options.masquerade,
                )
                for name in BUILTIN
            ]

    def network(self, ref: str, container_names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One network by name, full id or unique id prefix (as dockerd resolves them)."""
        found = self.networks(container_names)
        for key in ("Name", "Id"):
            exact = [n for n in found if n[key] == ref]
            if exact:
                return exact[0]
        prefixed = [n for n in found if ref and n["Id"].startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise Conflict(f"network {ref} is ambiguous ({len(prefixed)} matches): give more of its id")
        raise NotFound(f"network {ref} not found")

    # ------------------------------------------------------------------ internals

    def _open_store(self) -> NetworkStore:
        """The database, opened and loaded once (start, or the first call that needs it)."""
        if self._store is None:
            self._store = NetworkStore(self.state_path)
            self.state = self._store.load()
        return self._store

    def _started(self) -> NetlinkWorker:
        if self._worker is None or self._gateway is None:
            raise Conflict("the network is not started: call NetworkManager.start() first")
        return self._worker

    def _choose_gateway(self, ipr: Rtnl) -> ipaddress.IPv4Interface:
        """The bridge's address: the configured subnet's, the bridge's current one (as dockerd
        adopts docker0's), the one saved last time, or the first free subnet of the pool."""
        index = bridge.lookup(ipr, self.options.bridge)
        taken = hostroutes.taken_networks(ipr, ignore_index=index)
        taken += self._nameserver_networks()
        if self.options.subnet is not None:
            wanted = parse_subnet(self.options.subnet)
            clash = subnets.overlap(wanted.network, taken)
            if clash is not None:
                raise Conflict(
                    f"bridge subnet {wanted.network} overlaps {clash}, which this host already routes: "
                    "choose a subnet that no interface or route of the host uses"
                )
            return wanted
        current = bridge.addresses(ipr, index) if index is not None else []
        if current and subnets.overlap(current[0].network, taken) is None:
            return current[0]
        if self.state.subnet and self.state.bridge == self.options.bridge:
            saved = ipaddress.IPv4Network(self.state.subnet)
            if subnets.overlap(saved, taken) is None:
                return ipaddress.IPv4Interface(f"{subnets.gateway_of(saved)}/{saved.prefixlen}")
        net = subnets.choose_subnet(taken)
        return ipaddress.IPv4Interface(f"{subnets.gateway_of(net)}/{net.prefixlen}")

    def _nameserver_networks(self) -> list[ipaddress.IPv4Network]:
        # A bridge over the nameserver's address would swallow every DNS query of the host.
        source = resolvconf.host_source(self.options.resolv_conf)
        found = []
        for ns in resolvconf.read_host(source).nameservers:
            try:
                found.append(ipaddress.IPv4Network(ns))
            except ValueError:
                continue  # IPv6 or malformed: no IPv4 subnet to avoid
        return found

    def _plumb(self, worker: NetlinkWorker, sb: Sandbox) -> None:
        """On the worker: a spare namespace mounted at the sandbox's path and, for the bridge,
        its eth0 addressed. Undoes its own work on failure."""
        assert sb.netns_path is not None and self._spares is not None
        spare = self._spares.take(with_veth=sb.network == "bridge")
        try:
            netns.attach(spare.fd, sb.netns_path)
            if sb.network == "bridge":
                address = ipaddress.IPv4Interface(f"{sb.ip}/{sb.prefixlen}")
                veth.activate(spare.sock, spare.eth0, sb.mac, address, ipaddress.IPv4Address(sb.gateway))
                sb.veth = spare.veth
        except BaseException:
            netns.remove(sb.netns_path)
            if spare.veth:
                bridge.delete_link(worker.ipr, spare.veth)
            sb.veth = ""
            raise
        finally:
            spare.close()  # the mount holds the namespace from here on

    def _drain_spares(self) -> None:
        if self._spares is not None and self._worker is not None:
            self._worker.run(self._spares.drain)
        self._spares = None

    def _remove_locked(self, cid: str) -> None:
        sb = self.state.sandboxes.pop(cid, None)
        path = sb.netns_path if sb is not None else str(self.netns_dir / cid)
        if path is not None and _CID.match(cid):
            netns.remove(path)
        if sb is not None and self._store is not None:
            self._store.delete_sandbox(cid)

    def _reconcile(self, worker: NetlinkWorker) -> None:
        """Forget sandboxes whose namespace is gone (a reboot emptied the exec root) and delete
        veths on the bridge that no sandbox owns (a crash between creating and recording)."""
        for cid, sb in list(self.state.sandboxes.items()):
            if sb.netns_path is not None and not netns.is_mounted(sb.netns_path):
                log.info("network: forgetting sandbox of %s (its namespace %s is gone)", cid, sb.netns_path)
                del self.state.sandboxes[cid]
                assert self._store is not None
                self._store.delete_sandbox(cid)
        owned = {sb.veth for sb in self.state.sandboxes.values() if sb.veth}
        for port in worker.run(bridge.ports, worker.ipr, self._bridge_index):
            if port not in owned:
                log.info("network: deleting %s on %s: no container owns it", port, self.options.bridge)
                worker.run(bridge.delete_link, worker.ipr, port)


def _check_mac(mac: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", mac):
        raise InvalidArgument(f"invalid MAC address {mac!r}: use six hex pairs, e.g. 02:42:ac:11:00:02")
    if int(mac[:2], 16) & 1:
        raise InvalidArgument(
            f"invalid MAC address {mac!r}: a multicast address; the first byte must be even"
        )
    return mac.lower()


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return etcfiles.DEFAULT_HOSTS


def cleanup_bridge(bridge_name: str) -> None:
    """Remove a bridge and its firewall chains without a manager: the net under a daemon that
    crashed or a test that lost its manager. Idempotent."""
    worker = NetlinkWorker()
    try:
        with host_lock():
            firewall.remove(bridge_name)
            worker.run(bridge.delete_link, worker.ipr, bridge_name)
    finally:
        worker.close()
