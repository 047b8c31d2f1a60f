#!/bin/sh
# The sysctls every drill script starts from: Linux's defaults, written out so that
# both targets begin in the same place (the synack target maps each to Config).
sysctl -q net.ipv4.tcp_timestamps=1
sysctl -q net.ipv4.tcp_sack=1
sysctl -q net.ipv4.tcp_window_scaling=1
sysctl -q net.ipv4.tcp_syncookies=1
sysctl -q net.ipv4.tcp_syn_retries=6
sysctl -q net.ipv4.tcp_synack_retries=5
sysctl -q net.ipv4.tcp_fin_timeout=60
sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"
sysctl -q net.ipv4.tcp_wmem="4096 16384 4194304"
