"""Who is behind a ``tcp://`` Dask cluster's sockets on this machine: `check_listener`
refuses a scheduler another user listens with, `check_workers` a worker another user
runs, or one whose address cannot be its own.

A Dask client unpickles what the scheduler and its workers send back, so whatever
answers can run code in the client's process: root's, if imgconv runs as root. Linux
says who made each listening socket (``/proc/net/tcp``, ``tcp6``): root's and this
user's own are taken. Elsewhere no check is made, nor for an address on another
machine (except a worker claiming one while its scheduler listens on loopback only). A
``tls://`` scheduler and its workers are authenticated by their certificates instead.
"""

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from types import ModuleType

from .errors import ImgconvError

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_listener(distributed: ModuleType, address: str) -> None:
    """Refuse a ``tcp://`` ``address`` on this machine whose listening socket another
    user made, before connecting: another local user who listens on 127.0.0.1:8786
    while the user's own scheduler is not running would run their code as the user."""
    host, port = distributed.comm.get_address_host_port(address)
    if distributed.comm.parse_address(address)[0] != "tcp" or not os.path.exists("/proc/net/tcp"):
        return
    try:
        targets = _targets(host, port)
    except (OSError, UnicodeError):
        return  # connecting says why
    listening, _ = _sockets()
    for target in targets:
        strangers = _strangers(_owners(listening, target, port))
        if strangers:
            raise ImgconvError(f"--cluster {address}: the scheduler listening there was started by another user "
                               f"({_user_name(strangers[0])}), who could run code in imgconv through it; "
                               f"start your own, or use a tls:// scheduler")


# Run on the scheduler (`distributed.Client.run_on_scheduler`), in one round trip: the
# workers holding any of ``keys`` (every worker, for None), each with where its own
# connection to the scheduler comes from (None: it has none open), as the scheduler sees
# them. A lambda, so that it is sent by value: the scheduler need not have imgconv.
CONNECTIONS = lambda dask_scheduler, keys=None: {  # noqa: E731
    worker: send.comm.peer_address if (send := dask_scheduler.stream_comms.get(worker)) and send.comm else None
    for worker in (dask_scheduler.workers if keys is None else
                   {holder.address for key in keys
                    for holder in getattr(dask_scheduler.tasks.get(key), "who_has", None) or ()})}


def check_workers(distributed: ModuleType, address: str, connections: Callable[[], Mapping[str, str | None]]) -> None:
    """Refuse, in one line naming the first, any worker of the ``tcp://`` scheduler at
    ``address`` in ``connections()`` (`CONNECTIONS`'s answer, asked only when there is
    something to check: each worker's contact address, as it registered, and where its
    connection to the scheduler comes from, or None) that `worker_fault` finds at fault,
    or whose connection comes from a socket on this machine that another user made.

    A worker's contact address is only what it claims (the address of root's sshd would
    pass); the connection it opened to the scheduler, on which it is sent its tasks and
    sends back their results, is its own."""
    if distributed.comm.parse_address(address)[0] != "tcp" or not os.path.exists("/proc/net/tcp"):
        return
    try:
        loopback = all(target.is_loopback for target in _targets(*distributed.comm.get_address_host_port(address)))
    except (OSError, UnicodeError):
        loopback = False
    found = connections()
    if not found:
        return
    listening, connected = _sockets()
    for worker, peer in sorted(found.items()):
        fault = worker_fault(distributed, worker, loopback, listening)
        if not fault and peer is not None:
            fault = _stream_fault(distributed, peer, connected)
        if fault:
            raise ImgconvError(f"--cluster {address}: the worker at {worker} {fault}, and could run code in imgconv; "
                               f"stop it, or use a tls:// scheduler")


def worker_fault(distributed: ModuleType, worker: str, loopback: bool,
                 listening: list[tuple[IP, int, int]]) -> str | None:
    """What is wrong with a worker registered at ``worker``, or None: on this machine,
    the socket listening there must be root's or this user's (where nothing listens,
    the worker has died, or claims an address not its own, which its connection to the
    scheduler then tells, `check_workers`); and a scheduler on a
    ``loopback`` address only is reachable from this machine only, so a worker there
    claiming an address of another machine is not what it claims. A worker of a
    scheduler reachable from elsewhere, at an address of another machine, is not checked:
    nothing here says who runs it. ``listening`` is `_sockets`'s first list."""
    try:
        scheme = distributed.comm.parse_address(worker)[0]
        host, port = distributed.comm.get_address_host_port(worker)
        targets = _targets(host, port) if scheme == "tcp" else set()
    except (ValueError, OSError, UnicodeError):
        targets = set()
    if not targets:
        return "is not at a tcp:// address of this machine" if loopback else None
    for target in sorted(targets, key=str):
        if not _is_local(target):
            if loopback:
                return ("claims an address of another machine, from where a scheduler listening on loopback "
                        "cannot be reached")
            continue
        strangers = _strangers(_owners(listening, target, port))
        if strangers:
            return f"was started by another user ({_user_name(strangers[0])})"
    return None


def _stream_fault(distributed: ModuleType, peer: str, connected: list[tuple[IP, int, int]]) -> str | None:
    """What is wrong with a worker whose connection to the scheduler comes from
    ``peer``, or None (an address of another machine is not checked). Any owner of a
    connected socket there who is a stranger is refused: a listener of theirs on that
    port shares it with the connections it accepted. Where no socket of this machine is,
    the connection has closed: the worker died or left (a live one is listed), and can
    send nothing more."""
    try:
        host, port = distributed.comm.get_address_host_port(peer)
        ip = _plain(host)
    except ValueError:  # not a TCP connection: none of this machine's
        return None
    if not _is_local(ip):
        return None
    strangers = _strangers([uid for at, at_port, uid in connected if (at, at_port) == (ip, port)])
    return f"was started by another user ({_user_name(strangers[0])})" if strangers else None


def _targets(host: str, port: int) -> set[IP]:
    """The addresses ``host`` stands for."""
    return {_plain(str(info[4][0])) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}


def _owners(listening: list[tuple[IP, int, int]], target: IP, port: int) -> list[int]:
    """The uids of the sockets listening at ``target``:``port``: bound to it, or else to
    every address (0.0.0.0, ::) when ``target`` is this machine's."""
    exact = [uid for ip, at, uid in listening if at == port and ip == target]
    return exact or [uid for ip, at, uid in listening if at == port and ip.is_unspecified and _is_local(target)]


def _strangers(owners: list[int]) -> list[int]:
    """The ``owners`` neither root nor this user, in order."""
    return sorted(set(owners) - {0, os.geteuid()})


def _plain(text: str) -> IP:
    """An address, an IPv4 one mapped into IPv6 (``::ffff:127.0.0.1``) as IPv4."""
    ip = ipaddress.ip_address(text.partition("%")[0])
    return ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip


def _sockets() -> tuple[list[tuple[IP, int, int]], list[tuple[IP, int, int]]]:
    """(address, port, owner's uid) of each TCP socket here listening, and of each
    connected (states ``0A`` and ``01``), from ``/proc/net/tcp`` and ``tcp6`` (addresses
    in hex, in the kernel's byte order by 32-bit word). Both lists come from one read of
    each table, as `check_workers` runs before each result of a batch: a read cost the
    kernel 1.2 ms of CPU here, as much for tcp6's one line as for tcp's 50."""
    found: dict[str, list[tuple[IP, int, int]]] = {"0A": [], "01": []}  # LISTEN, ESTABLISHED
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as file:
                lines = file.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] not in found:
                continue
            hexaddress, _, hexport = fields[1].partition(":")
            packed = b"".join(bytes.fromhex(hexaddress[i:i + 8])[::-1] for i in range(0, len(hexaddress), 8))
            found[fields[3]].append((_plain(str(ipaddress.ip_address(packed))), int(hexport, 16), int(fields[7])))
    return found["0A"], found["01"]


def _is_local(ip: IP) -> bool:
    """Whether ``ip`` is one of this machine's addresses: one a socket can be bound to."""
    if ip.is_loopback:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False
    return True


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name}, uid {uid}"
    except KeyError:
        return f"uid {uid}"
