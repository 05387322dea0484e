// A container behind the test NAS (the Container Station / docker `-p` case): a namespace on a bridge-less veth
// from the NAS, and ports the NAS publishes to it by DNAT in its own nat table.
//
//   remote ── router ── nas (198.51.100.1, 2001:db8:5::1) ── ctr0 ── container (198.51.100.2, 2001:db8:5::2)
//
// The router routes the container network to the NAS, so the remote can also reach the container without any
// NAT: traffic the NAS merely routes.
import { execFileSync } from 'node:child_process';
import { addNamespace, inNs, removeNamespace, Topology } from './netns';

export interface Container {
  ns: string;
  addr: { 4: string; 6: string };
  /** NAS:port (both families) → container:target, as `docker run -p port:target` does. */
  publish(port: number, target: number): void;
  destroy(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function macOf(ns: string, dev: string): string {
  return (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev], { encoding: 'utf8' })) as Array<{ address: string }>)[0].address;
}

export function addContainer(net: Topology): Container {
  if (net.cloud) throw new Error('the container network (198.51.100.0/24) is the portal\'s in a topology with a cloud');
  const ns = addNamespace(net.nas.replace(/-nas$/, '-ctr'));
  const nasSide = { 4: '198.51.100.1', 6: '2001:db8:5::1' };
  const addr = { 4: '198.51.100.2', 6: '2001:db8:5::2' };
  try {
    ip('-n', net.nas, 'link', 'add', 'ctr0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    for (const [n, dev, a] of [[net.nas, 'ctr0', nasSide], [ns, 'eth0', addr]] as const) {
      ip('-n', n, 'addr', 'add', `${a[4]}/24`, 'dev', dev);
      ip('-n', n, 'addr', 'add', `${a[6]}/64`, 'dev', dev, 'nodad');
      ip('-n', n, 'link', 'set', dev, 'up');
    }
    ip('-n', ns, 'route', 'add', 'default', 'via', nasSide[4]);
    ip('-n', ns, '-6', 'route', 'add', 'default', 'via', nasSide[6]);
    ip('-n', net.router, 'route', 'add', '198.51.100.0/24', 'via', net.nasAddr[4]);
    ip('-n', net.router, '-6', 'route', 'add', '2001:db8:5::/64', 'via', net.nasAddr[6]);
    inNs(net.nas, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    // Static neighbours, as in makeTopology: no first packet lost to neighbour discovery.
    const nasMac = macOf(net.nas, 'ctr0');
    const ctrMac = macOf(ns, 'eth0');
    for (const f of [4, 6] as const) {
      ip('-n', net.nas, 'neigh', 'replace', addr[f], 'lladdr', ctrMac, 'dev', 'ctr0', 'nud', 'permanent');
      ip('-n', ns, 'neigh', 'replace', nasSide[f], 'lladdr', nasMac, 'dev', 'eth0', 'nud', 'permanent');
    }
  } catch (e) {
    removeNamespace(ns);
    throw e;
  }
  return {
    ns,
    addr,
    publish(port, target) {
      inNs(net.nas, 'iptables-legacy', ['-t', 'nat', '-A', 'PREROUTING', '-d', net.nasAddr[4], '-p', 'tcp', '--dport', String(port),
        '-j', 'DNAT', '--to-destination', `${addr[4]}:${target}`]);
      inNs(net.nas, 'ip6tables-legacy', ['-t', 'nat', '-A', 'PREROUTING', '-d', net.nasAddr[6], '-p', 'tcp', '--dport', String(port),
        '-j', 'DNAT', '--to-destination', `[${addr[6]}]:${target}`]);
    },
    destroy() {
      removeNamespace(ns);
    },
  };
}
