/* Tipline: solves the form's proof of work off the page's thread (see tipline/public/puzzle.py).
   Finds n such that SHA-256("<puzzle>:<n>") starts with `bits` zero bits. Plain SHA-256
   (FIPS 180-4) in 32-bit integers; the puzzle's whole 64-byte blocks are hashed once. */
"use strict";
var K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]);
var INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
var W = new Uint32Array(64);

function compress(state, block, offset) {
  var i, s0, s1, t1, t2;
  for (i = 0; i < 16; i++) {
    var j = offset + i * 4;
    W[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
  }
  for (i = 16; i < 64; i++) {
    var a15 = W[i - 15], a2 = W[i - 2];
    s0 = ((a15 >>> 7) | (a15 << 25)) ^ ((a15 >>> 18) | (a15 << 14)) ^ (a15 >>> 3);
    s1 = ((a2 >>> 17) | (a2 << 15)) ^ ((a2 >>> 19) | (a2 << 13)) ^ (a2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  var a = state[0], b = state[1], c = state[2], d = state[3];
  var e = state[4], f = state[5], g = state[6], h = state[7];
  for (i = 0; i < 64; i++) {
    s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0; state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

function ascii(text) {
  var out = new Uint8Array(text.length);
  for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/* The first word of SHA-256(prefix + n) for each n, with the prefix's whole blocks done once. */
function solve(puzzle, bits, report) {
  var prefix = ascii(puzzle + ":");
  var whole = prefix.length - (prefix.length % 64);
  var mid = new Int32Array(INITIAL);
  for (var o = 0; o < whole; o += 64) compress(mid, prefix, o);
  var rest = prefix.subarray(whole);
  var tail = new Uint8Array(128);
  var state = new Int32Array(8);
  var mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits);
  var secondWord = bits > 32 ? ~(0xffffffff >>> (bits - 32)) : 0;
  for (var n = 0; n < 1e15; n++) {
    var digits = String(n);
    var length = rest.length + digits.length;
    var blocks = length + 9 > 64 ? 2 : 1;
    tail.fill(0);
    tail.set(rest, 0);
    for (var i = 0; i < digits.length; i++) tail[rest.length + i] = digits.charCodeAt(i);
    tail[length] = 0x80;
    var bitLength = (prefix.length + digits.length) * 8;
    var end = blocks * 64;
    tail[end - 4] = (bitLength >>> 24) & 0xff;
    tail[end - 3] = (bitLength >>> 16) & 0xff;
    tail[end - 2] = (bitLength >>> 8) & 0xff;
    tail[end - 1] = bitLength & 0xff;
    state.set(mid);
    compress(state, tail, 0);
    if (blocks === 2) compress(state, tail, 64);
    if ((state[0] & mask) === 0 && (state[1] & secondWord) === 0) return digits;
    if (report && n % 65536 === 65535) report(n + 1);
  }
  return null;
}

if (typeof self !== "undefined" && typeof self.postMessage === "function") {
  self.onmessage = function (event) {
    var started = Date.now();
    var answer = solve(String(event.data.puzzle), Number(event.data.bits), function (tried) {
      self.postMessage({ tried: tried });
    });
    self.postMessage({ answer: answer, ms: Date.now() - started });
  };
}
