# parley %postun ($1 = 0 on erase, 1 on upgrade): what %systemd_postun_with_restart does. The new
# binary migrates the database when it starts. Erasing keeps /var/lib/parley (data) and the user,
# as RPM packages do; README.md says how to delete them.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart parley.service >/dev/null 2>&1 || :
    fi
fi
exit 0
