# parley %preun ($1 = 0 on erase, 1 on upgrade): what %systemd_preun does.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload disable --now parley.service >/dev/null 2>&1 || :
fi
exit 0
