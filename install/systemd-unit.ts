// The systemd unit that runs `procview serve` on a host: before every container runtime (their
// containers bind our files at start), restarted whatever happens, and with its keeper shielded
// from the OOM killer (the keeper's descriptor is every container's view). `procview serve`
// becomes the native keeper under the same pid, so the keeper is the unit's main process.
export const UNIT_NAME = "procview.service";
export const DEFAULT_UNIT_DIR = "/etc/systemd/system";

export interface UnitInvocation {
  node: string;
  cli: string;
  mountPoint: string;
}

export function buildUnit(inv: UnitInvocation): string {
  return `[Unit]
Description=procview: per-container /proc and /sys views over FUSE
After=local-fs.target
# Runtimes start containers whose hooks or NRI plugin bind files from the mount.
Before=podman.service podman.socket crio.service containerd.service kubelet.service

[Service]
Type=simple
ExecStart=${inv.node} ${inv.cli} serve --foreground --mountpoint ${inv.mountPoint}
# Replaces the serving process with the code installed now; the mount and views stay. Returns
# once the new one serves.
ExecReload=${inv.node} ${inv.cli} reload --mountpoint ${inv.mountPoint}
Restart=always
RestartSec=1
# Applies to the keeper; it starts its serving processes at 0 (a standby at 500: the first to go).
OOMScoreAdjust=-1000
# SIGTERM to the keeper alone, which unmounts (or hands over to a successor) and ends its
# serving processes itself; SIGKILL for whatever is left after it exits.
KillMode=mixed
TimeoutStopSec=10
# Each serving thread keeps the cgroup files of the containers it serves open (re-read with
# pread): room for thousands of containers.
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}
