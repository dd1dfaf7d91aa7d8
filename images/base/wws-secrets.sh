# WWS: the workspace owner's secrets as environment variables, for login shells (sourced by
# /etc/profile) and every zsh (sourced by /etc/zsh/zshenv under `emulate sh`). The host
# agent writes one file per variable on the workspace's tmpfs, so the values are never in
# the image, the container's configuration or the home volume. POSIX sh: dash, bash, zsh.
if [ -d /run/wws/secrets/env ]; then
    for _wws_f in /run/wws/secrets/env/*; do
        _wws_n=${_wws_f##*/}
        # only names a variable can have (an unmatched glob leaves a literal `*` here)
        case $_wws_n in
            [!A-Za-z_]* | *[!A-Za-z0-9_]*) continue ;;
        esac
        if [ "${#_wws_n}" -gt 128 ] || [ ! -f "$_wws_f" ] || [ ! -r "$_wws_f" ]; then
            continue
        fi
        # $(...) drops trailing newlines; the `x` keeps them, so the value is exactly the file
        if _wws_v=$(cat -- "$_wws_f" && printf x); then
            export "$_wws_n=${_wws_v%x}"
        fi
    done
    unset _wws_f _wws_n _wws_v
fi
