# Helpers for the test guest's checks (sourced by /init and /checks/*).
# arg NAME: the value of cellvm.NAME= on the kernel command line, or nothing.
arg() {
	for w in $(cat /proc/cmdline); do
		case $w in "cellvm.$1="*) echo "${w#*=}" ;; esac
	done
}
