"""What about the host can change numerics: OS, kernel, CPU, GPUs, engine."""
import hashlib
import platform
import shutil
import subprocess


def cpu_info(cpuinfo_text):
    """CPU model and a hash of its feature flags, from /proc/cpuinfo text (pure)."""
    model, flags = None, ''
    for line in cpuinfo_text.splitlines():
        key, _, value = line.partition(':')
        key = key.strip()
        if key == 'model name' and model is None:
            model = value.strip()
        elif key in ('flags', 'Features') and not flags:
            flags = ' '.join(sorted(value.split()))
    return {'model': model, 'flags_sha256': hashlib.sha256(flags.encode()).hexdigest()}


def gpus():
    """GPUs with driver and CUDA version via nvidia-smi, or [] without one."""
    if shutil.which('nvidia-smi') is None:
        return []
    try:
        out = subprocess.run(['nvidia-smi', '--query-gpu=name,driver_version',
                              '--format=csv,noheader'], capture_output=True, text=True,
                             timeout=20, check=True).stdout
        header = subprocess.run(['nvidia-smi'], capture_output=True, text=True,
                                timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    cuda = next((part.split(':')[1].strip().split()[0] for part in header.split('|')
                 if 'CUDA Version' in part), None)
    return [{'name': name.strip(), 'driver': driver.strip(), 'cuda': cuda}
            for name, driver in (line.split(',', 1) for line in out.splitlines() if ',' in line)]


def host_record(docker_version=None):
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            cpu = cpu_info(f.read())
    except OSError:
        cpu = {'model': platform.processor() or None, 'flags_sha256': None}
    return {'os': platform.system(), 'platform': platform.platform(),
            'kernel': platform.release(), 'machine': platform.machine(),
            'docker_version': docker_version, 'cpu': cpu, 'gpus': gpus()}
