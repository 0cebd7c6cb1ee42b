# parley %pre: the system user and group, before the files that belong to them are installed.
getent group parley >/dev/null || groupadd --system parley
getent passwd parley >/dev/null || useradd --system --gid parley --home-dir /var/lib/parley \
    --no-create-home --shell /sbin/nologin --comment "Parley chat appliance" parley
exit 0
