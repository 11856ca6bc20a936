"""Write the JavaScript decoder of web/ as one script into the package
(src/gainmlp/data/web_bundle.js), which ``gainmlp report`` pages embed.

Run after changing anything in web/ (tests/test_evaluation_html_report.py fails until the
shipped bundle matches web/)::

    python scripts/bundle_web.py
"""

from __future__ import annotations

from gainmlp.evaluation.html_report import PACKAGED_BUNDLE, WEB_DIR, bundle_web

if __name__ == "__main__":
    script = bundle_web(WEB_DIR)
    if not script:
        raise SystemExit(f"no JavaScript decoder in {WEB_DIR}")
    PACKAGED_BUNDLE.write_text(script)
    print(f"wrote {PACKAGED_BUNDLE} ({len(script)} characters)")
