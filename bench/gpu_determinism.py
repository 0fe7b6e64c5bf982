"""Does ``deterministic.set_seed`` make CUDA training bit-for-bit repeatable?

Run on a machine with an NVIDIA GPU (not in CI): ``python bench/gpu_determinism.py``.
Each trial is a fresh process that seeds with repro, then trains a small
conv net whose backward pass uses kernels that are nondeterministic by
default on CUDA (``index_add_``/``scatter_add_`` atomics, cuDNN conv
backward algorithms, cuBLAS split-K reductions). With the flags the
sha256 of the final weights must be equal across processes; without them
it usually is not, which shows the check can fail.
"""
import json
import subprocess
import sys

TRIAL = r'''
import hashlib, json, sys
from repro.experiment import deterministic
record = deterministic.set_seed(7, deterministic=sys.argv[1] == 'on')
import torch
device = 'cuda'
net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3),
                          torch.nn.Flatten(), torch.nn.LazyLinear(10)).to(device)
x = torch.randn(512, 3, 32, 32, device=device)
y = torch.randint(0, 10, (512,), device=device)
net(x[:1])
opt = torch.optim.SGD(net.parameters(), lr=0.01)
index = torch.randint(0, 64, (512,), device=device)
for _ in range(20):
    opt.zero_grad()
    out = net(x)
    pooled = torch.zeros(64, 10, device=device).index_add_(0, index, out)  # atomics
    loss = torch.nn.functional.cross_entropy(out, y) + pooled.square().mean() * 1e-3
    loss.backward()
    opt.step()
digest = hashlib.sha256(b''.join(p.detach().cpu().numpy().tobytes()
                                 for p in net.parameters())).hexdigest()
record = deterministic.get_determinism_record()
print(json.dumps({'digest': digest, 'record': record}))
'''


def trial(flag):
    out = subprocess.run([sys.executable, '-c', TRIAL, flag], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(trials=3):
    result = {}
    for flag in ('on', 'off'):
        runs = [trial(flag) for _ in range(trials)]
        digests = [r['digest'] for r in runs]
        result[flag] = {'distinct_digests': len(set(digests)), 'trials': trials,
                        'record': runs[0]['record']}
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0 if result['on']['distinct_digests'] == 1 else 1


if __name__ == '__main__':
    sys.exit(main())
