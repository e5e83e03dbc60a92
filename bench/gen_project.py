#!/usr/bin/env python3
"""Generates a large bulletin project for benchmarks: N contacts, U updates in en and fr,
a personal bilingual digest campaign. Usage: gen_project.py DIR N U"""
import os, random, shutil, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out, n, u = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
shutil.rmtree(out, ignore_errors=True)
for d in ("lists", "updates", "campaigns"):
    os.makedirs(os.path.join(out, d))
shutil.copytree(os.path.join(root, "templates"), os.path.join(out, "templates"))
cfg = open(os.path.join(root, "config.example.toml")).read()
open(os.path.join(out, "bulletin.toml"), "w").write(cfg)

tags = ["small-arms", "landmines", "peace-operations", "humanitarian-disarmament", "multilateral-negotiations"]
para_en = ("Peace operations deploy more personnel than ever, and the weapons and ammunition they "
           "hold are often exposed. Our research shows that much of this loss could be prevented, "
           "and proposes guidelines built with troop-contributing countries. ")
para_fr = ("Les opérations de paix déploient plus de personnel que jamais, et les armes et munitions "
           "qu'elles détiennent sont souvent exposées. Nos recherches montrent qu'une grande partie "
           "de ces pertes pourrait être évitée. ")
for i in range(u):
    t = random.sample(tags, 2)
    for lang, para in (("en", para_en), ("fr", para_fr)):
        with open(os.path.join(out, "updates", f"2026-11-update-{i:02}.{lang}.md"), "w") as f:
            f.write(f'+++\ntitle = "Update {i} ({lang}): findings on {t[0]}"\ndate = 2026-11-{(i % 28) + 1:02}\n'
                    f'project = "Benchmark project"\ninterests = {t!r}\nlink = "https://example.org/u/{i}"\n+++\n'.replace("'", '"'))
            # About as long as an update of the example project: a few paragraphs and a list.
            f.write(para + "\n\n" + para + "\n\n- first point\n- second point\n")
langs = ["en", "fr", "en+fr", "fr;en", "Français", "", "bilingual"]
with open(os.path.join(out, "lists", "contacts.csv"), "w") as f:
    f.write("email,first_name,last_name,organisation,language,interests\n")
    for i in range(n):
        ints = ";".join(random.sample(tags, random.randint(1, 3)))
        f.write(f"person{i}@example.org,First{i},Last{i},Org {i % 500},{random.choice(langs)},{ints}\n")
# A one-update announcement: the lighter kind of mailing, for the send benchmark.
with open(os.path.join(out, "campaigns", "announce.toml"), "w") as f:
    f.write('template = "newsletter"\n[subject]\nen = "New report"\nfr = "Nouveau rapport"\n'
            '[updates]\ninclude = ["2026-11-update-00"]\n[audience]\nlists = ["contacts.csv"]\n')
with open(os.path.join(out, "campaigns", "bench.toml"), "w") as f:
    f.write('template = "newsletter"\ndigest = true\n[subject]\nen = "Benchmark digest"\nfr = "Lettre de test"\n'
            '[updates]\nfrom = 2026-11-01\nto = 2026-11-30\n[audience]\nlists = ["contacts.csv"]\n')
