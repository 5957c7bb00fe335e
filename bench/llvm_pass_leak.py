"""llvmlite's O2 pipeline keeps memory per module it optimizes.

Parses the same LLVM IR module (each in a fresh context, disposed after)
``--count`` times, optimizes it with a fresh pass builder each time (closed
after) and prints the process RSS every 200 modules.  With ``--no-opt`` RSS
stays flat; with the pipeline it grows by about 95 KB per module on
llvmlite 0.50 (LLVM 22), whatever tracejit does with its modules.

    python bench/llvm_pass_leak.py [--no-opt]
"""

from __future__ import annotations

import argparse

import llvmlite.binding as llvm

IR = """
define i64 @f(i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %loop]
  %s = phi i64 [0, %entry], [%s1, %loop]
  %m = mul i64 %i, 7
  %s1 = add i64 %s, %m
  %i1 = add i64 %i, 1
  %c = icmp slt i64 %i1, %n
  br i1 %c, label %loop, label %done
done:
  ret i64 %s1
}
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--no-opt", action="store_true")
    args = ap.parse_args()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    tm = llvm.Target.from_default_triple().create_target_machine(opt=2, jit=True)
    for k in range(args.count):
        context = llvm.create_context()
        mod = llvm.parse_assembly(IR, context=context)
        if not args.no_opt:
            pto = llvm.create_pipeline_tuning_options(speed_level=2)
            pb = llvm.create_pass_builder(tm, pto)
            mpm = pb.getModulePassManager()
            mpm.run(mod, pb)
            mpm.close()
            pb.close()
            pto.close()
        mod.close()
        context.close()
        if k % 200 == 199:
            print(k + 1, f"{rss_mb():.1f} MB", flush=True)


if __name__ == "__main__":
    main()
