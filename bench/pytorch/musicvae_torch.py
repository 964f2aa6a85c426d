#!/usr/bin/env python3
"""PyTorch reference MusicVAE for benchmarking musicvae (Rust/burn) side by side.

Same architectures and sizes as musicvae's presets (Magenta's configs.py numbers), same loss
(cross-entropy summed over time, averaged over the batch; KL with free bits; beta), Adam with
exponential learning-rate decay, global-norm clipping at 1.0 (a step whose norm is not finite or
> 1e4 is skipped). cuDNN nn.LSTM for the encoder and for teacher-forced decoding; a step loop
where sampling forces it. Plain PyTorch + numpy, nothing else.

Modes
  --bench:      warm-up, then timed training steps at --batch; prints one JSON line
                (sequences/s, ms/step, peak CUDA memory, loss after the steps from a fixed seed).
  --agreement DIR: load the weights musicvae wrote (`musicvae bench agreement -o DIR`), compute the
                loss on the same tokens with the same epsilon, compare with DIR/ours.json.

Examples
  python3 musicvae_torch.py --bench --config cat-mel_2bar_small --batch 512 --device cuda
  python3 musicvae_torch.py --agreement /tmp/agree --device cpu
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Magenta's configs (configs.py) as musicvae's presets.
PRESETS = {
    'cat-mel_2bar_small': dict(z=256, enc=[512], dec=[256, 256], hier=None, steps=32, free_bits=0.0,
                               max_beta=0.2, beta_rate=0.99999, sampling=1000.0),
    'cat-mel_2bar_big': dict(z=512, enc=[2048], dec=[2048, 2048, 2048], hier=None, steps=32, free_bits=0.0,
                             max_beta=0.5, beta_rate=0.99999, sampling=1000.0),
    'hierdec-mel_16bar': dict(z=512, enc=[2048, 2048], dec=[1024, 1024], hier=[16, 16], steps=256,
                              free_bits=256.0, max_beta=0.2, beta_rate=0.0, sampling=None),
    # hierdec-mel_16bar's structure with cat-mel_2bar_small's layer sizes (the CPU benchmark row;
    # musicvae: --config hierdec-mel_16bar --set z_size=256 --set enc_rnn_size=[512]
    # --set dec_rnn_size=[256,256]).
    'hierdec-mel_16bar-small': dict(z=256, enc=[512], dec=[256, 256], hier=[16, 16], steps=256,
                                    free_bits=256.0, max_beta=0.2, beta_rate=0.0, sampling=None),
}


def lstm_flops(d_in, sizes, steps, bidirectional=False):
    """Multiply-add FLOPs (2 per MAC) of a forward pass through stacked LSTM layers over `steps`."""
    total, d = 0, d_in
    for h in sizes:
        total += (2 if bidirectional else 1) * steps * 2 * (d + h) * 4 * h
        d = 2 * h if bidirectional else h
    return total


def train_flops_per_sequence(cfg):
    """The FLOP model of the benchmark tables: matrix products only (LSTM input and recurrent
    products, output layer), forward pass, times 3 for forward + backward."""
    z, enc, dec, T = cfg['z'], cfg['enc'], cfg['dec'], cfg['steps']
    f = lstm_flops(DEPTH, enc, T, bidirectional=True)
    if cfg['hier']:
        U, S = cfg['hier']
        f += lstm_flops(1, dec, U)  # conductor
        f += U * lstm_flops(DEPTH + dec[-1], dec, S)  # bar decoders
    else:
        f += lstm_flops(DEPTH + z, dec, T)
    f += T * 2 * dec[-1] * DEPTH  # output layer
    return 3 * f
DEPTH = 90  # melody classes
FORGET_BIAS = 1.0  # TF LSTMBlockCell


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        a, b = meta['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype='<f4').copy().reshape(meta['shape']))
    return out


class MusicVAE(nn.Module):
    """Encoder: stacked bidirectional LSTM; mu = dense, sigma = softplus(dense).
    Decoder: flat (LSTM stack, init tanh(dense(z)), input prev token || z) or hierarchical
    (conductor LSTM fed zeros, init tanh(dense(z)); per-bar decoder init tanh(dense(c_u)), input
    prev token || c_u; globally shifted targets)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        z, enc, dec = cfg['z'], cfg['enc'], cfg['dec']
        assert all(h == enc[0] for h in enc), 'nn.LSTM needs equal layer sizes'
        assert all(h == dec[0] for h in dec)
        self.encoder = nn.LSTM(DEPTH, enc[0], num_layers=len(enc), bidirectional=True, batch_first=True)
        self.mu = nn.Linear(2 * enc[-1], z)
        self.sigma = nn.Linear(2 * enc[-1], z)
        self.hier = cfg['hier']
        cond = z
        if self.hier:
            self.conductor = nn.LSTM(1, dec[0], num_layers=len(dec), batch_first=True)
            self.conductor_init = nn.Linear(z, 2 * sum(dec))
            cond = dec[-1]
        self.core = nn.LSTM(DEPTH + cond, dec[0], num_layers=len(dec), batch_first=True)
        self.core_init = nn.Linear(cond, 2 * sum(dec))
        self.out = nn.Linear(dec[-1], DEPTH)
        for lin in [self.mu, self.sigma, self.core_init] + ([self.conductor_init] if self.hier else []):
            nn.init.normal_(lin.weight, std=0.001)
            nn.init.zeros_(lin.bias)
        for lstm in [self.encoder, self.core] + ([self.conductor] if self.hier else []):
            for name, p in lstm.named_parameters():
                if name.startswith('bias_ih'):
                    with torch.no_grad():
                        h = p.shape[0] // 4
                        p.zero_()
                        p[h:2 * h] = FORGET_BIAS
                elif name.startswith('bias_hh'):
                    nn.init.zeros_(p)

    @staticmethod
    def initial_state(flat, sizes):
        """TF flatten order (c0, h0, c1, h1, ...) -> nn.LSTM (h [L, B, H], c [L, B, H])."""
        hs, cs, off = [], [], 0
        for h in sizes:
            cs.append(flat[:, off:off + h])
            hs.append(flat[:, off + h:off + 2 * h])
            off += 2 * h
        return torch.stack(hs).contiguous(), torch.stack(cs).contiguous()

    def encode(self, x):
        _, (h, _) = self.encoder(x)  # h: [2L, B, H]
        summary = torch.cat([h[-2], h[-1]], 1)  # final fw || bw of the top layer
        return self.mu(summary), F.softplus(self.sigma(summary))

    def decode_teacher_forced(self, x, z):
        B, T, _ = x.shape
        prev = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)  # [B, T, 90]
        dec = self.cfg['dec']
        if not self.hier:
            st = self.initial_state(torch.tanh(self.core_init(z)), dec)
            inp = torch.cat([prev, z.unsqueeze(1).expand(-1, T, -1)], 2)
            o, _ = self.core(inp, st)
            return self.out(o)
        U, S = self.hier
        st = self.initial_state(torch.tanh(self.conductor_init(z)), dec)
        emb, _ = self.conductor(torch.zeros(B, U, 1, device=x.device), st)  # [B, U, H]
        c = emb.reshape(B * U, -1)
        st = self.initial_state(torch.tanh(self.core_init(c)), dec)
        inp = torch.cat([prev.reshape(B * U, S, DEPTH), c.unsqueeze(1).expand(-1, S, -1)], 2)
        o, _ = self.core(inp, st)  # all bars in one cuDNN call
        return self.out(o).reshape(B, T, DEPTH)

    def decode_sampled(self, z, T, temperature=1.0):
        """Free-running decoding (scheduled-sampling probability 1): step loop, samples fed back."""
        B = z.shape[0]
        dec = self.cfg['dec']
        cond = z
        U, S = (1, T) if not self.hier else self.hier
        if self.hier:
            st = self.initial_state(torch.tanh(self.conductor_init(z)), dec)
            emb, _ = self.conductor(torch.zeros(B, U, 1, device=z.device), st)
        logits_all = []
        prev = torch.zeros(B, DEPTH, device=z.device)
        for u in range(U):
            cond = emb[:, u] if self.hier else z
            st = self.initial_state(torch.tanh(self.core_init(cond)), dec)
            for _ in range(S):
                o, st = self.core(torch.cat([prev, cond], 1).unsqueeze(1), st)
                lg = self.out(o[:, 0])
                logits_all.append(lg)
                g = -torch.log(-torch.log(torch.rand_like(lg).clamp_min(1e-20)))
                tok = (lg.detach() / temperature + g).argmax(1)
                prev = F.one_hot(tok, DEPTH).float()
        return torch.stack(logits_all, 1)

    def load_musicvae(self, t):
        """Load weights written by `musicvae bench agreement` (names in src/model/export.rs)."""
        def lstm(mod, prefix, layers, bidir):
            for l in range(layers):
                for d, tag in ([(0, 'fwd'), (1, 'bwd')] if bidir else [(0, None)]):
                    suffix = '_reverse' if d == 1 else ''
                    base = f'{prefix}.{tag}.{l}' if bidir else f'{prefix}.{l}'
                    getattr(mod, f'weight_ih_l{l}{suffix}').data.copy_(t[base + '.w_ih'].T)
                    getattr(mod, f'weight_hh_l{l}{suffix}').data.copy_(t[base + '.w_hh'].T)
                    b = t[base + '.bias'].clone()
                    h = b.shape[0] // 4
                    b[h:2 * h] += FORGET_BIAS
                    getattr(mod, f'bias_ih_l{l}{suffix}').data.copy_(b)
                    getattr(mod, f'bias_hh_l{l}{suffix}').data.zero_()

        def dense(lin, prefix):
            lin.weight.data.copy_(t[prefix + '.weight'].T)
            lin.bias.data.copy_(t[prefix + '.bias'])

        lstm(self.encoder, 'encoder', len(self.cfg['enc']), True)
        dense(self.mu, 'mu')
        dense(self.sigma, 'sigma')
        if self.hier:
            # Our conductor's first layer reads a 1-wide zero input: its w_ih is [1, 4H].
            lstm(self.conductor, 'conductor.lstm', len(self.cfg['dec']), False)
            dense(self.conductor_init, 'conductor.init')
        lstm(self.core, 'cores.0.lstm', len(self.cfg['dec']), False)
        dense(self.core_init, 'cores.0.init')
        dense(self.out, 'cores.0.out')


def loss_terms(model, tokens, eps, step, cfg, sampled=False):
    x = F.one_hot(tokens.long(), DEPTH).float()
    mu, sigma = model.encode(x)
    z = mu + sigma * eps
    if sampled:
        logits = model.decode_sampled(z, x.shape[1])
    else:
        logits = model.decode_teacher_forced(x, z)
    ce = F.cross_entropy(logits.reshape(-1, DEPTH), tokens.reshape(-1).long(), reduction='none')
    r_loss = ce.reshape(tokens.shape).sum(1)  # summed over time
    kl = (-torch.log(sigma.clamp_min(1e-12)) + 0.5 * (sigma ** 2 + mu ** 2) - 0.5).sum(1)
    kl_cost = F.relu(kl - cfg['free_bits'] * math.log(2))
    beta = (1 - cfg['beta_rate'] ** step) * cfg['max_beta']
    loss = r_loss.mean() + beta * kl_cost.mean()
    return loss, r_loss.mean(), kl.mean(), kl_cost.mean(), beta


def read_npy_u16(path):
    a = np.load(path)
    assert a.dtype == np.uint16 and a.ndim == 2, 'expected [N, T] uint16 tokens'
    return torch.from_numpy(a.astype(np.int64))


def bench(args):
    cfg = PRESETS[args.config]
    dev = torch.device(args.device)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.tf32 and dev.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    T = cfg['steps']
    if args.data:
        tokens = read_npy_u16(args.data)
        assert tokens.shape[1] == T, f'{args.data}: rows of {tokens.shape[1]} tokens, {args.config} needs {T}'
    else:
        r = np.random.rand(args.batch * 4, T)
        tokens = torch.from_numpy(np.where(r < 0.5, 0, np.where(r < 0.6, 1, np.random.randint(2, 90, r.shape))))
    model = MusicVAE(cfg).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    params = sum(p.numel() for p in model.parameters())
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    first = last = None
    t0 = time.time()
    n = tokens.shape[0]
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            if dev.type == 'cuda':
                torch.cuda.synchronize()
            t0 = time.time()
        s = (i * args.batch) % (n - args.batch + 1)
        tok = tokens[s:s + args.batch].to(dev)
        eps = torch.randn(args.batch, cfg['z'], device=dev)
        for g in opt.param_groups:
            g['lr'] = (1e-3 - 1e-5) * 0.9999 ** i + 1e-5
        loss, _, _, _, _ = loss_terms(model, tok, eps, i, cfg, sampled=args.mode == 'sampled')
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if torch.isfinite(norm) and norm.item() <= 1e4:  # host read, as musicvae's step
            opt.step()
        last = loss.item()
        first = last if first is None else first
    if dev.type == 'cuda':
        torch.cuda.synchronize()
    secs = time.time() - t0
    out = dict(side='pytorch', config=args.config, mode=args.mode, batch=args.batch, steps=args.steps,
               warmup=args.warmup, seconds=secs, seq_per_sec=args.steps * args.batch / secs,
               ms_per_step=1e3 * secs / args.steps, first_loss=first, last_loss=last, params=params,
               peak_mem_bytes=torch.cuda.max_memory_allocated() if dev.type == 'cuda' else None,
               torch=torch.__version__, device=str(dev), tf32=bool(args.tf32))
    print(json.dumps(out))


def agreement(args):
    d = args.agreement
    ours = json.load(open(os.path.join(d, 'ours.json')))
    m = ours['config']['model']
    name = m['name']
    if name not in PRESETS:
        # Build the config from the saved one (tiny presets, overrides).
        cfg = dict(z=m['z_size'], enc=m['enc_rnn_size'], dec=m['dec_rnn_size'], hier=m['hierarchical'],
                   steps=m['data']['slice_bars'] * 16, free_bits=m['free_bits'], max_beta=m['max_beta'],
                   beta_rate=m['beta_rate'], sampling=None)
    else:
        cfg = dict(PRESETS[name])
        cfg.update(z=m['z_size'], enc=m['enc_rnn_size'], dec=m['dec_rnn_size'], free_bits=m['free_bits'],
                   max_beta=m['max_beta'], beta_rate=m['beta_rate'])
    assert m['forget_bias'] == FORGET_BIAS
    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = MusicVAE(cfg)
    model.load_musicvae(read_safetensors(os.path.join(d, 'weights.safetensors')))
    model = model.to(dev)
    tokens = read_npy_u16(os.path.join(d, 'tokens.npy')).to(dev)
    eps = torch.from_numpy(np.load(os.path.join(d, 'eps.npy'))).to(dev)
    with torch.no_grad():
        loss, r, kl, klc, beta = loss_terms(model, tokens, eps, ours['step'], cfg)
    theirs = dict(loss=loss.item(), r_loss=r.item(), kl=kl.item(), kl_cost=klc.item())
    worst = 0.0
    for k, v in theirs.items():
        diff = abs(v - ours[k])
        worst = max(worst, diff)
        print(f'{k:8s} musicvae {ours[k]:.6f}  pytorch {v:.6f}  |diff| {diff:.2e}')
    ok = worst <= args.tolerance
    print(json.dumps(dict(agreement=name, batch=tokens.shape[0], max_abs_diff=worst, tolerance=args.tolerance,
                          ok=ok, device=str(dev), torch=torch.__version__)))
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bench', action='store_true')
    p.add_argument('--agreement', metavar='DIR')
    p.add_argument('--config', default='cat-mel_2bar_small', choices=sorted(PRESETS))
    p.add_argument('--mode', default='teacher_forced', choices=['teacher_forced', 'sampled'])
    p.add_argument('--batch', type=int, default=512)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--data', help='[N, T] uint16 .npy tokens (musicvae prepare --npy)')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--tf32', action='store_true', help='allow TF32 matmuls (bench only)')
    p.add_argument('--tolerance', type=float, default=1e-3)
    p.add_argument('--flops', action='store_true', help='print the FLOP model (per trained sequence) of --config')
    p.add_argument('--sgemm', metavar='M,K,N', help='print torch.matmul GFLOP/s of an [M,K]x[K,N] product')
    p.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.flops:
        print(json.dumps(dict(config=a.config, train_flops_per_sequence=train_flops_per_sequence(PRESETS[a.config]))))
    elif a.sgemm:
        m, k, n = (int(v) for v in a.sgemm.split(','))
        x, y = torch.randn(m, k), torch.randn(k, n)
        torch.matmul(x, y)
        times = []
        for _ in range(5):
            t0 = time.time()
            torch.matmul(x, y)
            times.append(time.time() - t0)
        secs = sorted(times)[len(times) // 2]
        print(json.dumps(dict(sgemm=[m, k, n], seconds=secs, gflops=2 * m * k * n / secs / 1e9,
                              threads=torch.get_num_threads())))
    elif a.agreement:
        agreement(a)
    elif a.bench:
        bench(a)
    else:
        p.error('give --bench or --agreement DIR')


if __name__ == '__main__':
    main()
