#!/bin/sh
# Check snd: the ALSA device list (virtio-snd's card, its playback and
# capture PCM), then as the host asks on the console: a 440 Hz sine played
# for a second (the host follows it through cellvm run's audio ring); a
# second recorded after the host pushed a malformed WAV stream into the
# audio input socket ("junk": the --snd source=wav: file is what the guest
# must get); two seconds recorded while the host pushes a tone
# (cellvm-check-snd prints the dominant frequency and RMS;
# test/guest/guest_check.py, check snd).
. /lib/check.sh
cellvm-check-snd list || exit 1
echo "CELLVM-SND ready"
read -r word
[ "$word" = play ] || exit 1
cellvm-check-snd play 440 1 || exit 1
echo "CELLVM-SND waiting"
read -r word
if [ "$word" = junk ]; then
	cellvm-check-snd record 1 junk || exit 1
	echo "CELLVM-SND waiting"
	read -r word
fi
[ "$word" = record ] || exit 1
exec cellvm-check-snd record 2
