# parley %post ($1 = 1 on install, 2 on upgrade).
# The data dir: the database and the signing keys the binary generates on first start. Not a
# file of the package, so erase and upgrade never touch it.
if [ ! -d /var/lib/parley ]; then
    install -d -m 0750 -o parley -g parley /var/lib/parley
fi
# What %systemd_post does: the unit is enabled or not by the system's presets, and not started
# (set server_name and create the first admin first, README.md). Works without a running
# systemd (containers).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload preset parley.service >/dev/null 2>&1 || :
fi
exit 0
