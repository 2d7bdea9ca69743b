#!/bin/sh
# Check snd: the ALSA device list (virtio-snd's card, its playback and
# capture PCM), then as the host asks on the console: a 440 Hz sine played
# for a second (the host follows it through cellvm run's audio ring), and
# two seconds recorded while the host pushes a tone into the audio input
# socket (cellvm-check-snd prints its dominant frequency and RMS;
# test/guest/guest_check.py, check snd).
. /lib/check.sh
cellvm-check-snd list || exit 1
echo "CELLVM-SND ready"
read -r word
[ "$word" = play ] || exit 1
cellvm-check-snd play 440 1 || exit 1
echo "CELLVM-SND waiting"
read -r word
[ "$word" = record ] || exit 1
exec cellvm-check-snd record 2
