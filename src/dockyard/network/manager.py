"""The daemon's networks: the default bridge, user-defined bridge networks, one sandbox (network
namespace with an endpoint per network joined) per container, published ports, the embedded
DNS, and the files that tell a container its name and resolvers.

    start()            bridges with their gateway addresses, firewall rules, port rules and DNS
                       listeners; state reconciled (sandboxes whose netns is gone dropped, veths
                       no sandbox owns deleted, rules rewritten from what survived)
    create_network()   a user-defined bridge network (POST /networks/create)
    remove_network()   refused while containers are attached
    create_sandbox()   netns at <exec-root>/netns/<cid>; per bridge network a veth pair whose
                       peer (eth0, eth1, ...) gets an address, a MAC derived from it and, on the
                       first network with a gateway, the default route; lo up; ports published
    connect()/disconnect()   a network more or less for a running container
    remove_sandbox()   unmount the netns (the kernel then frees the ethN and veth pairs),
                       release addresses and ports; idempotent
    write_files()      hostname, hosts, resolv.conf into a folder the engine bind-mounts
    networks()         the Engine API's Network JSON
    stop()             at daemon stop: closes the netlink socket and DNS, removes nothing
    teardown()         removes everything: sandboxes, bridges, firewall rules, port rules

cleanup_bridge(name) removes a daemon's bridges and rules without a manager (after a crash).

Every netlink call and namespace switch runs on one worker thread (netlink.py), so any thread may
call these methods, the event loop's included; they block for a few milliseconds. ``on_event``
(set by the daemon) receives network events: ("create"|"connect"|"disconnect"|"destroy",
network id, attributes).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from dockyard.network import (
    bridge,
    etcfiles,
    firewall,
    hostroutes,
    inspect,
    ipam,
    netns,
    portmap,
    resolvconf,
    rtnl,
    rulebackends,
    subnets,
    sysctl,
    usernet,
    veth,
)
from dockyard.network.addresses import mac_for_ip, new_id, veth_name
from dockyard.network.dns_server import DNSIndex, DNSServer
from dockyard.network.hostlock import host_lock
from dockyard.network.netlink import NetlinkWorker, Rtnl
from dockyard.network.options import NetworkOptions, parse_subnet
from dockyard.network.portrules import BridgeSpec, PortRule, RuleBackend, Rules
from dockyard.network.record import BUILTIN_DRIVERS, Network
from dockyard.network.sandbox import CUSTOM, MODES, Endpoint, Sandbox
from dockyard.network.spares import SparePool
from dockyard.network.state import BUILTIN, NetworkState, NetworkStore
from dockyard.util.atomic import write_atomic

log = logging.getLogger("dockyard.network")

_CID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_VETH_ATTEMPTS = 4
EventSink = Callable[[str, str, dict[str, str]], None]


class NetworkManager:
    def __init__(self, data_root: Path, exec_root: Path, options: NetworkOptions | None = None) -> None:
        self.options = options or NetworkOptions()
        self.options.validate()
        self.state_path = Path(data_root) / "network" / "ipam.db"
        self.netns_dir = Path(exec_root) / "netns"
        self._rules: RuleBackend | None = None  # the port and isolation rules' packet filter
        self.on_event: EventSink | None = None
        self._lock = threading.RLock()
        self._worker: NetlinkWorker | None = None
        self._bridge_index = 0
        self._indexes: dict[str, int] = {}  # bridge name -> ifindex
        self._gateway: ipaddress.IPv4Interface | None = None
        self._store: NetworkStore | None = None
        self._spares: SparePool | None = None
        self._dns: DNSServer | None = None
        self.state = NetworkState()

    # ------------------------------------------------------------------ daemon lifecycle

    def start(self) -> None:
        """Bridges, addresses, firewall rules, DNS, state reconciled with the host; idempotent."""
        with self._lock:
            store = self._open_store()
            if self._worker is None:
                self._worker = NetlinkWorker()
            worker = self._worker
            name = self.options.bridge
            with host_lock():
                gateway = worker.run(self._choose_gateway, worker.ipr)
                self._bridge_index = worker.run(bridge.ensure, worker.ipr, name, self.options.mtu, gateway)
                self._indexes[name] = self._bridge_index
                firewall.install(
                    firewall.BridgeRules(name, gateway.network, self.options.masquerade, self.options.isolate)
                )
                for net in self.state.user_networks.values():
                    self._bring_up(worker, net)
                self._rules = rulebackends.choose(self.options.firewall_backend, name)
                if self.state.rules_backend != self._rules.name:
                    # A daemon that ran with another backend (or a data root from before there
                    # was a choice) may have left rules there.
                    for other in rulebackends.others(self._rules, name):
                        other.delete()
            # Published ports from other hosts and routing between bridges need forwarding on,
            # as dockerd turns it on whatever its options.
            sysctl.enable_ip_forward()
            sysctl.set_route_localnet(name)
            if not self.options.icc:
                sysctl.enable_bridge_netfilter()
            netns.share_folder(str(self.netns_dir))
            if self.state.subnet != str(gateway.network) or self.state.bridge != name:
                self.state.last_ip = None
            self._gateway = gateway
            self.state.bridge, self.state.subnet = name, str(gateway.network)
            self.state.rules_backend = self._rules.name
            store.set_meta(
                bridge=name,
                subnet=self.state.subnet,
                last_ip=self.state.last_ip,
                rules_backend=self._rules.name,
            )
            self._drain_spares()
            self._reconcile(worker)
            self._spares = SparePool(worker.sock, self._bridge_index, self.options.mtu)
            worker.post(self._spares.refill)
            if self._dns is None:
                self._dns = DNSServer(self._upstream())
            for net in self.state.user_networks.values():
                self._dns.listen(net.id, net.gateway)
            self._sync(ports=True)
            log.info("network: bridge %s, subnet %s, gateway %s", name, gateway.network, gateway.ip)

    def stop(self) -> None:
        """Close the netlink socket, its thread and the DNS server. Bridges, rules and every
        sandbox stay: containers keep running across a daemon restart (live restore)."""
        with self._lock:
            self._drain_spares()
            if self._dns is not None:
                self._dns.close()
                self._dns = None
            if self._worker is not None:
                self._worker.close()
                self._worker = None
            if self._store is not None:
                self._store.close()
                self._store = None

    def teardown(self) -> None:
        """Remove every sandbox, every bridge with its firewall rules, and the port rules;
        idempotent, and usable after a failed or missing start()."""
        with self._lock:
            self._open_store()
            for cid in list(self.state.sandboxes):
                self._remove_locked(cid, sync=False)
            self._drain_spares()
            if self._dns is not None:
                self._dns.close()
                self._dns = None
            worker = self._worker or NetlinkWorker()
            try:
                with host_lock():
                    for net in self.state.user_networks.values():
                        firewall.remove(net.bridge)
                        worker.run(bridge.delete_link, worker.ipr, net.bridge)
                    firewall.remove(self.options.bridge)
                    worker.run(bridge.delete_link, worker.ipr, self.options.bridge)
                    _delete_rules(self.options.bridge)
                self._rules = None
            finally:
                worker.close()
                self._worker = None
            netns.unshare_folder(str(self.netns_dir))
            if self._store is not None:
                self._store.close()
                self._store = None

    # ------------------------------------------------------------------ networks

    def create_network(self, body: Mapping[str, Any]) -> dict[str, str]:
        """POST /networks/create: {"Id": ..., "Warning": ""}."""
        with self._lock:
            worker = self._started()
            with host_lock():
                taken = worker.run(hostroutes.taken_networks, worker.ipr) + self._nameserver_networks()
                net = usernet.new_network(
                    body,
                    self._all_networks(),
                    taken,
                    default_mtu=self.options.mtu,
                    masquerade=self.options.masquerade,
                )
                try:
                    self._bring_up(worker, net)
                except BaseException:
                    firewall.remove(net.bridge)
                    worker.run(bridge.delete_link, worker.ipr, net.bridge)
                    raise
            assert self._store is not None
            self._store.put_network(net)
            self.state.user_networks[net.id] = net
            if self._dns is not None:
                self._dns.listen(net.id, net.gateway)
            self._sync(ports=True)
            self._event("create", net)
            return {"Id": net.id, "Warning": ""}

    def remove_network(self, ref: str) -> None:
        with self._lock:
            worker = self._started()
            net = self._find(ref)
            if net.builtin:
                raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
            users = [sb.cid for sb in self.state.sandboxes.values() if sb.endpoint(net.name)]
            if users:
                raise Conflict(
                    f"error while removing network: network {net.name} id {net.id} has active endpoints "
                    f"({', '.join(u[:12] for u in users)}): stop those containers or disconnect them first"
                )
            if self._dns is not None:
                self._dns.forget(net.id)
            with host_lock():
                firewall.remove(net.bridge)
                worker.run(bridge.delete_link, worker.ipr, net.bridge)
            self._indexes.pop(net.bridge, None)
            assert self._store is not None
            self._store.delete_network(net.id)
            del self.state.user_networks[net.id]
            self._sync(ports=True)
            self._event("destroy", net)

    def networks(self, container_names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Network JSON of every network; Containers lists the sandboxes on each, named through
        ``container_names`` (container id -> name) when given."""
        with self._lock:
            self._open_store()
            sandboxes = list(self.state.sandboxes.values())
            names = container_names or {}
            return [inspect.network_json(net, sandboxes, names) for net in self._all_networks()]

    def network(self, ref: str, container_names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One network by name, full id or unique id prefix (as dockerd resolves them)."""
        with self._lock:
            self._open_store()
            net = self._find(ref)
            return inspect.network_json(net, list(self.state.sandboxes.values()), container_names or {})

    # ------------------------------------------------------------------ sandboxes

    def create_sandbox(
        self,
        cid: str,
        mode: str = "bridge",
        hostname: str = "",
        *,
        mac_address: str | None = None,
        name: str = "",
        endpoints: Mapping[str, Mapping[str, Any]] | None = None,
        port_bindings: Mapping[str, Any] | None = None,
        exposed: Sequence[str] = (),
        publish_all: bool = False,
        dns: Sequence[str] = (),
    ) -> Sandbox:
        """A container's network. ``mode``: bridge, default, none, host, or a user network's
        name or id; ``endpoints``: EndpointsConfig (network -> Aliases, IPAMConfig, MacAddress)
        for the mode's network and any more to join. A sandbox left for the same ``cid`` (a
        crash, a reboot) is replaced."""
        if not _CID.match(cid):
            raise InvalidArgument(
                f"invalid container id {cid!r} for a network sandbox: use letters and digits"
            )
        if mode.startswith("container:"):
            raise InvalidArgument(
                f"invalid network mode {mode!r} for a sandbox: container:<id> joins that container's "
                "sandbox, which the engine looks up"
            )
        with self._lock:
            worker = self._started()
            kind = MODES.get(mode)
            primary = self._find(mode if kind is None else kind)
            if kind is None:
                kind = primary.name if not primary.is_bridge else "bridge" if primary.builtin else CUSTOM
            configs = self._resolve_endpoints(primary, endpoints or {})
            if mac_address is not None and kind not in ("bridge", CUSTOM):
                raise InvalidArgument(f"a MAC address ({mac_address}) needs a bridge network, not {mode!r}")
            if cid in self.state.sandboxes:
                self._remove_locked(cid)
            sb = Sandbox(
                cid=cid, mode=kind, netns_path=None, sandbox_id=new_id(), hostname=hostname, name=name
            )
            sb.dns = list(dns)
            if kind != "host":
                sb.netns_path = str(self.netns_dir / cid)
                netns.remove(sb.netns_path)  # a stale mount from a crash, or nothing
            nets = [net for net, _ in configs]
            for i, (net, config) in enumerate(configs):
                mac = mac_address if i == 0 and mac_address else None
                sb.endpoints.append(self._new_endpoint(sb, net, config, f"eth{i}", mac))
            if kind in ("bridge", CUSTOM):
                wanted = portmap.requests(port_bindings, exposed, publish_all)
                if wanted:
                    target = next((ep for ep in sb.endpoints if ep.ip), None)
                    if target is not None:
                        sb.ports = portmap.allocate(wanted, self._held_ports())
            if sb.netns_path is not None:
                worker.run(self._plumb, worker, sb, nets)
                assert self._spares is not None
                worker.post(self._spares.refill)
            self.state.sandboxes[cid] = sb
            assert self._store is not None
            self._store.put_sandbox(sb, self.state.last_ip if kind == "bridge" else None)
            for net in nets:
                if not net.builtin:
                    self._store.put_network(net)
            if sb.ports or any(not n.builtin for n in nets):
                self._sync(ports=bool(sb.ports))
            for net in nets:
                self._event("connect", net, cid)
            return sb

    def connect(self, cid: str, ref: str, config: Mapping[str, Any] | None = None) -> Sandbox:
        """Join the running container's sandbox to one more bridge network."""
        with self._lock:
            worker = self._started()
            sb = self.state.sandboxes.get(cid)
            if sb is None or sb.netns_path is None:
                raise Conflict(f"container {cid[:12]} has no network sandbox to connect: start it first")
            if sb.mode not in ("bridge", CUSTOM):
                raise Conflict(
                    f"container {cid[:12]} uses the {sb.mode} network: containers on host or none "
                    "networks cannot be connected to another network"
                )
            net = self._find(ref)
            if not net.is_bridge:
                raise Conflict(f"container cannot be connected to the {net.name} network along with others")
            if sb.endpoint(net.name) is not None:
                raise Conflict(
                    f"endpoint with name {sb.name or cid[:12]} already exists in network {net.name}"
                )
            used = {ep.ifname for ep in sb.endpoints}
            ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
            ep = self._new_endpoint(sb, net, config or {}, ifname, None)
            # The default route stays where it is; a sandbox without one gets it here.
            route = not any(e.gateway for e in sb.endpoints)
            worker.run(self._plumb_running, worker, sb.netns_path, ep, net, route)
            sb.endpoints.append(ep)
            assert self._store is not None
            self._store.put_sandbox(sb, None)
            if not net.builtin:
                self._store.put_network(net)
            self._sync(ports=False)
            self._event("connect", net, cid)
            return sb

    def disconnect(self, cid: str, ref: str, force: bool = False) -> Sandbox | None:
        """Take a running container's endpoint on ``ref`` away (its veth pair is deleted)."""
        with self._lock:
            worker = self._started()
            net = self._find(ref)
            sb = self.state.sandboxes.get(cid)
            ep = sb.endpoint(net.name) if sb is not None else None
            if sb is None or ep is None:
                if force:
                    return sb
                raise Conflict(f"container {cid[:12]} is not connected to network {net.name}")
            if not net.is_bridge:
                raise Conflict(f"container cannot be disconnected from the {net.name} network")
            if ep.veth:
                worker.run(bridge.delete_link, worker.ipr, ep.veth)
            sb.endpoints.remove(ep)
            ports = bool(sb.ports)
            if sb.ports and not any(e.ip for e in sb.endpoints):
                sb.ports = []
            assert self._store is not None
            self._store.put_sandbox(sb, None)
            self._sync(ports=ports)
            self._event("disconnect", net, cid)
            return sb

    def remove_sandbox(self, cid: str) -> None:
        """Release the container's addresses and ports and unmount its namespace; idempotent.

        Call it once the container's processes are gone: the namespace, its ethN and so the
        host's veth ends are freed by the kernel when the last holder lets go.
        """
        with self._lock:
            self._remove_locked(cid)

    def get_sandbox(self, cid: str) -> Sandbox | None:
        with self._lock:
            return self.state.sandboxes.get(cid)

    def sandboxes(self) -> list[Sandbox]:
        with self._lock:
            return list(self.state.sandboxes.values())

    def resolve(self, ref: str) -> tuple[str, str]:
        """(name, id) of a network by name, id or unique id prefix; NotFound otherwise."""
        with self._lock:
            self._open_store()
            net = self._find(ref)
            return net.name, net.id

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
        host_net = sandbox.mode == "host"
        base = _read(self.options.hosts_file) if host_net else etcfiles.DEFAULT_HOSTS
        gateway = sandbox.gateway or (str(self._gateway.ip) if self._gateway else None)
        hosts = etcfiles.hosts(hostname, domainname, sandbox.ip, extra_hosts, gateway, base=base)
        source = resolvconf.host_source(self.options.resolv_conf)
        embedded = self._embedded_dns(sandbox)
        if embedded is not None:
            # The embedded DNS answers the names and passes the rest on (--dns servers first).
            conf, note = resolvconf.for_container(
                resolvconf.read_host(source), [embedded], dns_search, dns_options, filter_host=True
            )
            note = f"Embedded DNS of the container's networks at {embedded}."
        else:
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

    # ------------------------------------------------------------------ internals

    def _embedded_dns(self, sb: Sandbox) -> str | None:
        by_name = {n.name: n for n in self.state.user_networks.values()}
        for ep in sb.endpoints:
            net = by_name.get(ep.network)
            if net is not None and net.has_dns:
                return net.gateway
        return None

    def _event(self, action: str, net: Network, container: str | None = None) -> None:
        if self.on_event is None:
            return
        attrs = {"name": net.name, "type": net.driver}
        if container:
            attrs["container"] = container
        try:
            self.on_event(action, net.id, attrs)
        except Exception:  # an event must never break the network's work
            log.exception("network: publishing %s of %s failed", action, net.name)

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

    def _default_network(self) -> Network:
        meta = self.state.networks["bridge"]
        gw = self._gateway
        return Network(
            id=meta["Id"],
            name="bridge",
            driver="bridge",
            created=meta["Created"],
            bridge=self.options.bridge,
            subnet=str(gw.network) if gw else (self.state.subnet or ""),
            gateway=str(gw.ip) if gw else "",
            mtu=self.options.mtu,
            icc=self.options.icc,
            masquerade=self.options.masquerade,
            last_ip=self.state.last_ip or "",
            builtin=True,
        )

    def _all_networks(self) -> list[Network]:
        out = [self._default_network()]
        for name in BUILTIN[1:]:
            meta = self.state.networks[name]
            out.append(Network(meta["Id"], name, BUILTIN_DRIVERS[name], meta["Created"], builtin=True))
        out += sorted(self.state.user_networks.values(), key=lambda n: n.created)
        return out

    def _find(self, ref: str) -> Network:
        found = self._all_networks()
        for key in ("name", "id"):
            exact = [n for n in found if getattr(n, key) == ref]
            if exact:
                return exact[0]
        prefixed = [n for n in found if ref and n.id.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise Conflict(f"network {ref} is ambiguous ({len(prefixed)} matches): give more of its id")
        raise NotFound(f"network {ref} not found")

    def _resolve_endpoints(
        self, primary: Network, endpoints: Mapping[str, Mapping[str, Any]]
    ) -> list[tuple[Network, Mapping[str, Any]]]:
        """[(network, its EndpointsConfig entry)], the mode's network first."""
        out: list[tuple[Network, Mapping[str, Any]]] = [(primary, {})]
        for ref, config in endpoints.items():
            net = self._find(ref)
            if net.id == primary.id:
                out[0] = (primary, config or {})
                continue
            if not primary.is_bridge or not net.is_bridge:
                raise InvalidArgument(
                    f"container cannot be connected to network {net.name} along with the {primary.name} "
                    "network: host and none stand alone"
                )
            if any(n.id == net.id for n, _ in out):
                continue
            out.append((net, config or {}))
        if out[0][1].get("Aliases") and primary.builtin:
            raise InvalidArgument(
                "network-scoped aliases are supported only for containers in user defined networks: "
                "add --network NAME"
            )
        return out

    def _new_endpoint(
        self, sb: Sandbox, net: Network, config: Mapping[str, Any], ifname: str, mac: str | None
    ) -> Endpoint:
        aliases = [str(a) for a in config.get("Aliases") or []]
        ep = Endpoint(
            network=net.name,
            network_id=net.id,
            endpoint_id=new_id(),
            ifname=ifname if net.is_bridge else "",
            aliases=aliases,
            builtin=net.builtin,
        )
        if not net.is_bridge:
            return ep
        requested = str((config.get("IPAMConfig") or {}).get("IPv4Address") or "")
        mac = mac or str(config.get("MacAddress") or "") or None
        ip = self._allocate_ip(net, requested)
        iface = net.interface()
        ep.ip, ep.prefixlen = str(ip), iface.network.prefixlen
        ep.gateway = "" if net.internal else net.gateway
        ep.mac = _check_mac(mac) if mac else mac_for_ip(ip)
        ep.requested_ip = requested
        if net.subnet6:
            requested6 = str((config.get("IPAMConfig") or {}).get("IPv6Address") or "")
            ip6 = self._allocate_ip6(net, requested6)
            ep.ip6, ep.prefixlen6 = str(ip6), ipaddress.IPv6Network(net.subnet6).prefixlen
            ep.gateway6 = "" if net.internal else net.gateway6
        if net.has_dns:
            names = [sb.name, *aliases, sb.cid[:12]]
            if sb.hostname and sb.hostname != sb.cid[:12]:
                names.append(sb.hostname)
            ep.dns_names = [n for i, n in enumerate(names) if n and n not in names[:i]]
        return ep

    def _allocate_ip(self, net: Network, requested: str) -> ipaddress.IPv4Address:
        subnet = ipaddress.IPv4Network(net.subnet)
        gateway = ipaddress.IPv4Address(net.gateway)
        used = {
            ipaddress.IPv4Address(ep.ip)
            for sb in self.state.sandboxes.values()
            for ep in sb.endpoints
            if ep.network == net.name and ep.ip
        }
        if requested:
            try:
                ip = ipaddress.IPv4Address(requested)
            except ValueError:
                raise InvalidArgument(f"invalid IP address {requested!r}: use an IPv4 address") from None
            if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address, gateway):
                raise InvalidArgument(
                    f"invalid IP address {ip}: it is not a free host address of network {net.name} ({subnet})"
                )
            if ip in used:
                raise Conflict(f"Address already in use: {ip} is held by another container on {net.name}")
            return ip
        last = ipaddress.IPv4Address(net.last_ip) if net.last_ip else None
        ip = ipam.allocate(net.pool(), gateway, used, last)
        if net.builtin:
            self.state.last_ip = str(ip)
        else:
            net.last_ip = str(ip)
        return ip

    def _allocate_ip6(self, net: Network, requested: str) -> ipaddress.IPv6Address:
        """Sequential from where the network's allocator stopped, as for IPv4."""
        subnet = ipaddress.IPv6Network(net.subnet6)
        gateway = ipaddress.IPv6Address(net.gateway6)
        used = {
            ipaddress.IPv6Address(ep.ip6)
            for sb in self.state.sandboxes.values()
            for ep in sb.endpoints
            if ep.network == net.name and ep.ip6
        }
        if requested:
            try:
                ip = ipaddress.IPv6Address(requested)
            except ValueError:
                raise InvalidArgument(f"invalid IPv6 address {requested!r}") from None
            if ip not in subnet or ip in (subnet.network_address, gateway) or ip in used:
                raise Conflict(f"IPv6 address {ip} is not free on network {net.name} ({subnet})")
            return ip
        first = int(subnet.network_address) + 1
        size = min(subnet.num_addresses - 1, 1 << 32)
        start = int(ipaddress.IPv6Address(net.last_ip6)) + 1 if net.last_ip6 else first
        for step in range(size):
            candidate = ipaddress.IPv6Address(first + (start - first + step) % size)
            if candidate != gateway and candidate not in used:
                net.last_ip6 = str(candidate)
                return candidate
        raise Conflict(f"no free IPv6 address in {subnet} on network {net.name}")

    def _held_ports(self) -> list[tuple[Any, str]]:
        return [(b, sb.cid) for sb in self.state.sandboxes.values() for b in sb.ports]

    def _upstream(self) -> list[str]:
        if self.options.dns_upstream is not None:
            return list(self.options.dns_upstream)
        # The daemon lives in the host's namespace, so the host's own list works as it is.
        return resolvconf.read_host(resolvconf.host_source(self.options.resolv_conf)).nameservers

    def _bring_up(self, worker: NetlinkWorker, net: Network) -> None:
        """A user network's bridge with its address, route_localnet and firewall chains."""
        index = worker.run(bridge.ensure, worker.ipr, net.bridge, net.mtu, net.interface())
        self._indexes[net.bridge] = index
        iface6 = net.interface6()
        if iface6 is not None:
            worker.run(bridge.add_address6, worker.ipr, index, iface6)
        firewall.install(
            firewall.BridgeRules(
                net.bridge,
                ipaddress.IPv4Network(net.subnet),
                self.options.masquerade and net.masquerade and not net.internal,
                self.options.isolate or net.internal,
            )
        )
        sysctl.set_route_localnet(net.bridge)
        if not net.icc:
            sysctl.enable_bridge_netfilter()

    def _sync(self, ports: bool) -> None:
        """The DNS index, and with ``ports`` the port and isolation rules, rewritten from the state."""
        if self._dns is not None:
            self._dns.index = self._dns_index()
        if not ports:
            return
        if self._rules is None:
            self._rules = rulebackends.choose(self.options.firewall_backend, self.options.bridge)
        rules = Rules()
        for net in self._all_networks():
            if net.is_bridge:
                rules.bridges.append(
                    BridgeSpec(net.bridge, internal=net.internal, icc=net.icc, user=not net.builtin)
                )
        for sb in self.state.sandboxes.values():
            target = next((ep for ep in sb.endpoints if ep.ip), None)
            if target is None:
                continue
            rules.ports += [
                PortRule(b.proto, b.host_ip, b.host_port, target.ip, b.container_port) for b in sb.ports
            ]
        self._rules.apply(rules)

    def _dns_index(self) -> DNSIndex:
        idx = DNSIndex()
        user = {n.name: n for n in self.state.user_networks.values()}
        for sb in self.state.sandboxes.values():
            mine = [user[ep.network].id for ep in sb.endpoints if ep.network in user]
            for ep in sb.endpoints:
                if ep.ip:
                    idx.sources[ep.ip] = mine
                net = user.get(ep.network)
                if net is None or not ep.ip:
                    continue
                names = idx.names.setdefault(net.id, {})
                names6 = idx.names6.setdefault(net.id, {})
                for n in ep.dns_names:
                    names.setdefault(n.lower(), []).append(ep.ip)
                    if ep.ip6:
                        names6.setdefault(n.lower(), []).append(ep.ip6)
                idx.ptr.setdefault(net.id, {})[ep.ip] = f"{sb.name or sb.cid[:12]}.{net.name}"
                idx.members[(net.id, ep.ip)] = mine
                if sb.dns:
                    idx.upstream[(net.id, ep.ip)] = list(sb.dns)
        return idx

    def _choose_gateway(self, ipr: Rtnl) -> ipaddress.IPv4Interface:
        """The bridge's address: the configured subnet's, the bridge's current one (as dockerd
        adopts docker0's), the one saved last time, or the first free subnet of the pool."""
        index = bridge.lookup(ipr, self.options.bridge)
        taken = hostroutes.taken_networks(ipr, ignore_index=index)
        taken += self._nameserver_networks()
        taken += [ipaddress.IPv4Network(n.subnet) for n in self.state.user_networks.values()]
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

    def _index_of(self, worker: NetlinkWorker, name: str) -> int:
        index = self._indexes.get(name)
        if index is None:
            found = bridge.lookup(worker.ipr, name)
            if found is None:
                raise SystemFailure(f"bridge {name} is gone: restart the daemon to make it again")
            index = self._indexes[name] = found
        return index

    def _add_veth(self, worker: NetlinkWorker, net: Network, netns_fd: int, ifname: str) -> str:
        index = self._index_of(worker, net.bridge)
        for _ in range(_VETH_ATTEMPTS):
            name = veth_name()
            try:
                veth.add_pair(worker.sock, name, index, netns_fd, net.mtu, ifname)
                return name
            except veth.NameTaken:
                continue
        raise Conflict(f"no free veth name after {_VETH_ATTEMPTS} random tries: too many links named veth*?")

    def _configure(self, sock: Any, ep: Endpoint, index: int, route: bool) -> None:
        address = ipaddress.IPv4Interface(f"{ep.ip}/{ep.prefixlen}")
        gateway = ipaddress.IPv4Address(ep.gateway) if route and ep.gateway else None
        address6 = ipaddress.IPv6Interface(f"{ep.ip6}/{ep.prefixlen6}") if ep.ip6 else None
        gateway6 = ipaddress.IPv6Address(ep.gateway6) if route and ep.gateway6 else None
        veth.activate(sock, index, ep.mac, address, gateway, address6, gateway6)

    def _plumb(self, worker: NetlinkWorker, sb: Sandbox, nets: list[Network]) -> None:
        """On the worker: a spare namespace mounted at the sandbox's path and an addressed ethN
        per bridge network. Undoes its own work on failure."""
        assert sb.netns_path is not None and self._spares is not None
        fast = bool(sb.endpoints) and nets[0].builtin and nets[0].is_bridge
        spare = self._spares.take(with_veth=fast)
        made: list[str] = []
        try:
            netns.attach(spare.fd, sb.netns_path)
            routed = False
            for i, (ep, net) in enumerate(zip(sb.endpoints, nets, strict=True)):
                if not net.is_bridge:
                    continue
                if i == 0 and fast:
                    index, ep.veth = spare.eth0, spare.veth
                else:
                    ep.veth = self._add_veth(worker, net, spare.fd, ep.ifname)
                    index = veth.eth0_index(spare.sock, ep.ifname)
                made.append(ep.veth)
                self._configure(spare.sock, ep, index, route=not routed)
                routed = routed or bool(ep.gateway)
        except BaseException:
            netns.remove(sb.netns_path)
            for name in made or ([spare.veth] if spare.veth else []):
                bridge.delete_link(worker.ipr, name)
            for ep in sb.endpoints:
                ep.veth = ""
            raise
        finally:
            spare.close()  # the mount holds the namespace from here on

    def _plumb_running(
        self, worker: NetlinkWorker, path: str, ep: Endpoint, net: Network, route: bool
    ) -> None:
        fd, sock = netns.enter(path)
        try:
            rtnl.prepare(sock)
            ep.veth = self._add_veth(worker, net, fd, ep.ifname)
            try:
                self._configure(sock, ep, veth.eth0_index(sock, ep.ifname), route)
            except BaseException:
                bridge.delete_link(worker.ipr, ep.veth)
                ep.veth = ""
                raise
        finally:
            sock.close()
            os.close(fd)

    def _drain_spares(self) -> None:
        if self._spares is not None and self._worker is not None:
            self._worker.run(self._spares.drain)
        self._spares = None

    def _remove_locked(self, cid: str, sync: bool = True) -> None:
        sb = self.state.sandboxes.pop(cid, None)
        path = sb.netns_path if sb is not None else str(self.netns_dir / cid)
        if path is not None and _CID.match(cid):
            netns.remove(path)
        if sb is None:
            return
        if self._store is not None:
            self._store.delete_sandbox(cid)
        user = any(not ep.builtin for ep in sb.endpoints)
        if sync and (sb.ports or user):
            try:
                self._sync(ports=bool(sb.ports))
            except SystemFailure as exc:
                log.warning("network: rewriting rules after %s left failed: %s", cid[:12], exc)
        by_name = {n.name: n for n in self._all_networks()}
        for ep in sb.endpoints:
            net = by_name.get(ep.network)
            if net is not None:
                self._event("disconnect", net, cid)

    def _reconcile(self, worker: NetlinkWorker) -> None:
        """Forget sandboxes whose namespace is gone (a reboot emptied the exec root, or their
        container was removed while no daemon ran) and delete veths on our bridges that no
        sandbox owns (a crash between creating and recording, or a sandbox forgotten here)."""
        for cid, sb in list(self.state.sandboxes.items()):
            if sb.netns_path is not None and not netns.is_mounted(sb.netns_path):
                log.info("network: forgetting sandbox of %s (its namespace %s is gone)", cid, sb.netns_path)
                del self.state.sandboxes[cid]
                assert self._store is not None
                self._store.delete_sandbox(cid)
        owned = {ep.veth for sb in self.state.sandboxes.values() for ep in sb.endpoints if ep.veth}
        bridges = [self.options.bridge, *(n.bridge for n in self.state.user_networks.values())]
        for name in bridges:
            index = self._indexes.get(name)
            if index is None:
                continue
            for port in worker.run(bridge.ports, worker.ipr, index):
                if port not in owned:
                    log.info("network: deleting %s on %s: no container owns it", port, name)
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


def cleanup_bridge(bridge_name: str, data_root: Path | None = None) -> None:
    """Remove a daemon's bridge, its firewall chains and port rules without a manager (the net
    under a daemon that crashed or a test that lost its manager); with ``data_root``, the
    bridges of its user-defined networks too. Idempotent."""
    nets: list[Network] = []
    if data_root is not None and (Path(data_root) / "network" / "ipam.db").exists():
        store = NetworkStore(Path(data_root) / "network" / "ipam.db")
        try:
            nets = list(store.load().user_networks.values())
        finally:
            store.close()
    worker = NetlinkWorker()
    try:
        with host_lock():
            for net in nets:
                firewall.remove(net.bridge)
                worker.run(bridge.delete_link, worker.ipr, net.bridge)
            firewall.remove(bridge_name)
            worker.run(bridge.delete_link, worker.ipr, bridge_name)
            _delete_rules(bridge_name)
    finally:
        worker.close()


def _delete_rules(default_bridge: str) -> None:
    """The daemon's port and isolation rules, in whichever backend holds them."""
    for backend in rulebackends.every(default_bridge):
        if backend.available():
            backend.delete()
