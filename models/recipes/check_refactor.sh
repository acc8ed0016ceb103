#!/bin/sh
# Checks that a change of the Seq2Seq recipes changes no result: runs the recipes of git revision BASE (default
# HEAD) and of the working tree side by side on a small data subset, with fixed step budgets, and compares
#   data_seq2seq.py's output files; the tokenizer; the BART weights after STEPS steps and after 10 more steps of a
#   second stage (INIT_CKPT, MIX=ui, SUM_CAP=2, LS_OFF_FRAC=0.5, MAX_TOKENS=2000); the GRU weights after STEPS steps
#   and a 10-step second stage; export, fixture, evaluate, metrics, tuning and card outputs (each run on BASE's
#   checkpoint by both sides), and the exports of each side's own checkpoint.
#   sh models/recipes/check_refactor.sh [BASE] [STEPS]          (about 10 minutes on 2 shared cores)
# A BASE without the MAX_STEPS knob (before the shared training loop, e.g. 33b9df4) gets it patched into its copy.
# Scratch: models/.work/check_refactor/. Summarization pairs come from apt's Translation-en indexes when the machine
# has them, else from the long descriptions of the installed packages (/var/lib/dpkg/status).
set -eu
cd "$(dirname "$0")/../.."
BASE=${1:-HEAD}
STEPS=${2:-30}
PY="nice /usr/bin/python3"
C=models/.work/check_refactor
export OPENBLAS_NUM_THREADS=1 TORCH_THREADS=1 VOCAB_SIZE=2000 EVAL_N=40
rm -rf $C && mkdir -p $C/base $C/wb $C/wn
for f in $(git ls-tree --name-only "$BASE" models/recipes/); do git show "$BASE:$f" > $C/base/$(basename "$f"); done
for f in train_bart.py train_rnn.py; do
  grep -q MAX_STEPS $C/base/$f || $PY - $C/base/$f <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
old = "            frac = (time.time() - t_start) / budget\n"
assert s.count(old) == 1, p
s = s.replace(old, '            _ms = int(os.environ.get("MAX_STEPS", "0"))  # patched in by check_refactor.sh\n'
                   '            frac = step / _ms if _ms else (time.time() - t_start) / budget\n')
open(p, "w").write(s)
EOF
done
B=$C/base
N=models/recipes
same() {  # same LABEL A B: byte-identical files or folders
  if diff -r "$2" "$3" > /dev/null; then echo "identical: $1"; else echo "DIFFERENT: $1"; diff -r "$2" "$3" | head -5; FAIL=1; fi
}
FAIL=0

echo "== data_seq2seq.py"
$PY $B/data_seq2seq.py $C/data_base > /dev/null
$PY $N/data_seq2seq.py $C/data_new > /dev/null
same "data_seq2seq.py output" $C/data_base $C/data_new
$PY - $C/data_new $C/data <<'EOF'
import json, os, re, sys
src, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
rows = {k: [json.loads(l) for l in open(os.path.join(src, k + ".jsonl"))] for k in ("train", "valid", "test")}
keep = {"train": 3000, "valid": 150, "test": 100}
sub = {k: [r for r in v if r["task"] != "sum"][:keep[k]] + [r for r in v if r["task"] == "sum"][:keep[k] // 3]
       for k, v in rows.items()}
if not any(r["task"] == "sum" for r in sub["train"]):  # no Translation-en here: installed packages' descriptions
    pairs = []
    for block in open("/var/lib/dpkg/status", encoding="utf-8", errors="replace").read().split("\n\n"):
        m = re.search(r"^Description: (.*)\n((?: .*\n?)+)", block, re.M)
        if m:
            body = " ".join(l.strip() for l in m.group(2).split("\n") if l.strip() and l.strip() != ".")
            if len(body) >= 40:
                pairs.append({"src": "summarize: " + body[:900], "tgt": m.group(1).strip(), "task": "sum", "origin": "dpkg"})
    for i, r in enumerate(pairs):
        sub["valid" if i % 10 == 0 else "test" if i % 10 == 1 else "train"].append(r)
for k, v in sub.items():
    with open(os.path.join(out, k + ".jsonl"), "w") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in v)
    print(k, {t: sum(1 for r in v if r["task"] == t) for t in ("de", "fr", "es", "sum")})
os.link(os.path.join(src, "stats.json"), os.path.join(out, "stats.json"))
EOF

for s in b n; do
  if [ $s = b ]; then R=$B; else R=$N; fi
  echo "== $s: tokenizer, BART and GRU training ($STEPS steps + 10)"
  W=$C/w$s
  ln -sfn "$(pwd)/$C/data" $W/data
  $PY $R/train_bart.py tokenizer $C/data $W/tokenizer > $W/tokenizer.log
  mkdir -p $W/bart $W/rnn && cp -r $W/tokenizer $W/bart/ && cp -r $W/tokenizer $W/rnn/
  env MAX_STEPS=$STEPS $PY $R/train_bart.py train $C/data $W/bart 1000 > $W/bart/stdout1.log
  cp $W/bart/bart_final.pt $W/bart/bart_stage1.pt
  env MAX_STEPS=10 INIT_CKPT=$W/bart/bart_stage1.pt MIX=ui SUM_CAP=2 LS_OFF_FRAC=0.5 MAX_TOKENS=2000 PEAK_LR=1e-3 \
    WARMUP=5 $PY $R/train_bart.py train $C/data $W/bart 1000 > $W/bart/stdout2.log
  env MAX_STEPS=$STEPS $PY $R/train_rnn.py train $C/data $W/rnn 1000 > $W/rnn/stdout1.log
  cp $W/rnn/rnn_final.pt $W/rnn/rnn_stage1.pt
  env MAX_STEPS=10 INIT_CKPT=$W/rnn/rnn_stage1.pt PEAK_LR=1e-3 WARMUP=5 $PY $R/train_rnn.py train $C/data $W/rnn 1000 > $W/rnn/stdout2.log
  tail -1 $W/bart/stdout2.log; tail -1 $W/rnn/stdout2.log
done
same "tokenizer" $C/wb/tokenizer $C/wn/tokenizer
if ! $PY - $C/wb $C/wn <<'EOF'
import sys
import torch
b, n = sys.argv[1:]
bad = 0
for ck in ("bart/bart_stage1.pt", "bart/bart_final.pt", "rnn/rnn_stage1.pt", "rnn/rnn_final.pt"):
    x, y = torch.load(f"{b}/{ck}"), torch.load(f"{n}/{ck}")
    eq = x["state"].keys() == y["state"].keys() and all(torch.equal(x["state"][k], y["state"][k]) for k in x["state"])
    diff = max((x["state"][k] - y["state"][k]).abs().max().item() for k in x["state"])
    ok = eq and x["cfg"] == y["cfg"] and x["step"] == y["step"]
    bad += not ok
    print(f"{'identical' if ok else 'DIFFERENT'}: {ck} state_dict (step {x['step']} / {y['step']}, "
          f"{len(x['state'])} tensors, max |diff| {diff:g}, cfg equal {x['cfg'] == y['cfg']})")
sys.exit(bad)
EOF
then FAIL=1; fi

echo "== export, fixture, evaluate, metrics, tuning, card: both sides on BASE's checkpoints"
$PY - $C/data/test.jsonl $C/engine.json <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
tasks = {t: {"sources": [], "refs": [], "hyps": []} for t in ("de", "fr", "es", "sum")}
for r in rows:
    v = tasks[r["task"]]
    v["sources"].append(r["src"]); v["refs"].append(r["tgt"]); v["hyps"].append(r["src"].split(": ", 1)[1][:80])
json.dump({"model": "check", "options": {}, "n_per_task": 100, "tasks": tasks}, open(sys.argv[2], "w"))
EOF
for s in b n; do
  if [ $s = b ]; then R=$B; else R=$N; fi
  O=$C/out_$s
  mkdir -p $O/work/bart $O/work/rnn
  cp $C/wb/bart/bart_train.log $O/work/bart/ && cp $C/wb/rnn/rnn_train.log $O/work/rnn/ && ln -sfn "$(pwd)/$C/data" $O/work/data
  $PY $R/train_bart.py export $C/wb/bart/bart_final.pt $O/bart $O/work > /dev/null 2>&1
  $PY $R/train_bart.py fixture $C/wb/tokenizer $O/tiny $O/work > /dev/null 2>&1
  $PY $R/train_rnn.py export $C/wb/rnn/rnn_final.pt $O/rnn $O/work > /dev/null 2>&1
  $PY $R/train_bart.py evaluate $C/wb/bart/bart_final.pt $C/data $O/work/bart_eval.json > /dev/null
  $PY $R/train_rnn.py evaluate $C/wb/rnn/rnn_final.pt $C/data $O/work/rnn_eval.json > /dev/null
  $PY $R/train_bart.py metrics $C/engine.json $O/work/bart_engine_eval.json > /dev/null
  $PY $R/train_bart.py tuning $O/work/bart_engine_tuning.json $C/engine.json $C/engine.json > /dev/null
  $PY $R/train_bart.py card $O/work $O/bart > /dev/null
  $PY $R/train_rnn.py card $O/work $O/rnn > /dev/null
done
rm $C/out_b/work/data $C/out_n/work/data
same "BART export + card (onnx, configs, tokenizer, reference.json, README.md)" $C/out_b/bart $C/out_n/bart
same "GRU export + card" $C/out_b/rnn $C/out_n/rnn
same "BART fixture" $C/out_b/tiny $C/out_n/tiny
same "reports, step logits, evaluate, metrics, tuning (work folder)" $C/out_b/work $C/out_n/work

echo "== the working tree's exports of its own checkpoints"
$PY $N/train_bart.py export $C/wn/bart/bart_final.pt $C/own/bart $C/own > /dev/null 2>&1
$PY $N/train_rnn.py export $C/wn/rnn/rnn_final.pt $C/own/rnn $C/own > /dev/null 2>&1
same "BART export from its own checkpoint" $C/out_b/bart/onnx $C/own/bart/onnx
same "BART reference.json from its own checkpoint" $C/out_b/bart/reference.json $C/own/bart/reference.json
same "GRU export from its own checkpoint" $C/out_b/rnn/onnx $C/own/rnn/onnx
same "GRU reference.json from its own checkpoint" $C/out_b/rnn/reference.json $C/own/rnn/reference.json
[ $FAIL = 0 ] && echo "ALL IDENTICAL" || { echo "SOME DIFFERENT"; exit 1; }
