// AudioWorklet: microphone samples -> 16-bit PCM frames of 100 ms, with their RMS level.
class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate / 10);
    this.reset();
  }

  reset() {
    this.frame = new Int16Array(this.size);
    this.used = 0;
    this.energy = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const s = Math.max(-1, Math.min(1, channel[i]));
      this.frame[this.used++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      this.energy += s * s;
      if (this.used === this.size) {
        const level = Math.sqrt(this.energy / this.size);
        this.port.postMessage({ pcm: this.frame.buffer, level }, [this.frame.buffer]);
        this.reset();
      }
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
