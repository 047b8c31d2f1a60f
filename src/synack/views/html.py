"""A run's ladder as one self-contained HTML page, animated.

``synack scenario run NAME --html FILE`` writes it: the SVG of :mod:`synack.views.svg`
inline, its style and a short script inline too, and nothing fetched from anywhere (no
URL at all but the SVG namespace), so the file opens offline in any browser.  The page
steps through the ladder one row (one moment) at a time: step, back, play, pause and a
speed, or the arrow keys and the space bar.  The segments appear in order, each arrow
growing from its sender to its receiver as time passes (segments in flight together
visibly cross); both hosts' states stand above the picture, updated at each step; the
words under them say what happened; a click on a segment shows its numbers, times and
fate.  Without JavaScript the whole ladder shows, as the SVG does.

Words in English or Chinese (``lang``), like the ladder's.  Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from .svg import HOSTS_ZH, Lang

__all__ = ["ladder_html"]

_WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {"first": "first", "back": "back", "play": "play", "pause": "pause", "step": "step",
           "last": "last", "speed": "speed", "of": "step {k} of {n}", "start": "before the first step",
           "keys": "keys: → or space: step, ←: back, p: play/pause",
           "click": "Click a segment to see it whole.",
           "facts": "What the run shows", "section": "Seed section", "noscript":
           "Without JavaScript the whole ladder is shown; step through it with JavaScript on."},
    "zh": {"first": "开头", "back": "上一步", "play": "播放", "pause": "暂停", "step": "下一步",
           "last": "结尾", "speed": "速度", "of": "第 {k} 步，共 {n} 步", "start": "尚未开始",
           "keys": "按键：→ 或空格：下一步，←：上一步，p：播放/暂停", "click": "点击一个报文段查看详情。",
           "facts": "这次运行说明了什么", "section": "出处", "noscript":
           "没有 JavaScript 时显示整幅图；打开 JavaScript 可以逐步查看。"},
}

_CSS: Final = """
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC','Microsoft YaHei',
sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{padding:16px 24px 4px}
h1{font-size:20px;margin:0 0 4px}
.section{color:#57606a;margin:0 0 8px;font-size:13px}
.explain{max-width:70em;font-size:14px;line-height:1.5;margin:0 0 8px}
#bar{position:sticky;top:0;z-index:2;box-shadow:0 1px 3px rgba(0,0,0,.08)}
#controls{background:#fff;border-bottom:1px solid #d0d7de;padding:8px 24px;
display:flex;flex-wrap:wrap;gap:8px;align-items:center}
#controls button{font:inherit;padding:4px 12px;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;
cursor:pointer}
#controls button:disabled{opacity:.45;cursor:default}
#controls .pos{font-variant-numeric:tabular-nums;color:#57606a;margin-left:8px}
#status{display:flex;flex-wrap:wrap;gap:24px;padding:8px 24px;background:#fff;border-bottom:1px solid #eaeef2;
font-size:14px}
#status .host b{margin-right:6px}
#status .st{font-family:ui-monospace,'DejaVu Sans Mono',monospace;padding:1px 8px;border-radius:9px;
border:1px solid #8c959f;background:#f6f8fa}
#say{padding:6px 24px;margin:0;min-height:1.4em;font-size:14px;background:#fffbe6;
border-bottom:1px solid #eaeef2}
#detail{white-space:pre-wrap;font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12px;
padding:6px 24px;margin:0;color:#24292f;background:#fff;border-bottom:1px solid #eaeef2;min-height:1.2em}
#ladder{padding:12px 24px;overflow-x:auto}
#ladder svg{max-width:100%;height:auto;box-shadow:0 0 0 1px #d0d7de}
.stepping #ladder .hidden{display:none}
.stepping #ladder g.seg{clip-path:url(#synack-reveal)}
#facts{padding:0 24px 24px;font-size:14px}
#facts li{margin:2px 0;white-space:pre-line}
.keys{color:#57606a;font-size:12px;margin-left:auto}
"""

_JS: Final = """
(function(){
  'use strict';
  var W = JSON.parse(document.getElementById('synack-words').textContent);
  var root = document.documentElement;
  var svg = document.querySelector('#ladder svg');
  var NS = 'http://www.w3.org/2000/svg';
  var rows = Array.prototype.slice.call(svg.querySelectorAll('g.row'));
  var n = rows.length;
  var ys = rows.map(function(r){ return parseFloat(r.getAttribute('data-y')); });
  var byStep = rows.map(function(){ return []; });
  var states = {};   // run -> host -> [[step, state]...]
  Array.prototype.forEach.call(svg.querySelectorAll('[data-step]'), function(el){
    var s = parseInt(el.getAttribute('data-step'), 10);
    if (s >= 0 && s < n) byStep[s].push(el);
    if (el.classList.contains('state')) {
      var run = el.getAttribute('data-run'), host = el.getAttribute('data-host');
      states[run] = states[run] || {};
      (states[run][host] = states[run][host] || []).push([s, el.textContent]);
    }
  });
  // The reveal: segments are drawn down to the current moment only (an arrow grows).
  var defs = document.createElementNS(NS, 'defs');
  var clip = document.createElementNS(NS, 'clipPath');
  clip.setAttribute('id', 'synack-reveal');
  clip.setAttribute('clipPathUnits', 'userSpaceOnUse');
  var rect = document.createElementNS(NS, 'rect');
  rect.setAttribute('x', '0'); rect.setAttribute('y', '0');
  rect.setAttribute('width', svg.getAttribute('width')); rect.setAttribute('height', '0');
  clip.appendChild(rect); defs.appendChild(clip); svg.insertBefore(defs, svg.firstChild);
  var band = document.createElementNS(NS, 'rect');
  band.setAttribute('x', '0'); band.setAttribute('width', svg.getAttribute('width'));
  band.setAttribute('height', '22'); band.setAttribute('fill', '#fff5b1'); band.setAttribute('opacity', '0');
  var bg = svg.querySelector('rect.bg');
  svg.insertBefore(band, bg ? bg.nextSibling : svg.firstChild);
  root.classList.add('stepping');
  for (var s = 0; s < n; s++) byStep[s].forEach(function(el){ el.classList.add('hidden'); });

  var cur = -1, timer = null, shownY = 0, anim = null;
  var $ = function(id){ return document.getElementById(id); };
  function reveal(y) {
    if (anim) cancelAnimationFrame(anim);
    var from = shownY, t0 = null, dur = 260;
    function frame(ts) {
      if (t0 === null) t0 = ts;
      var f = Math.min(1, (ts - t0) / dur);
      shownY = from + (y - from) * f;
      rect.setAttribute('height', String(Math.max(0, shownY)));
      if (f < 1) anim = requestAnimationFrame(frame); else anim = null;
    }
    if (y < from || typeof requestAnimationFrame === 'undefined') {
      shownY = y; rect.setAttribute('height', String(Math.max(0, y)));
    } else anim = requestAnimationFrame(frame);
  }
  function stateAt(run, host, k) {
    var list = (states[run] || {})[host] || [], got = '';
    for (var i = 0; i < list.length && list[i][0] <= k; i++) got = list[i][1];
    return got;
  }
  function status(k) {
    var row = rows[Math.max(0, k)];
    var run = row ? row.getAttribute('data-run') : '1';
    var g = svg.querySelector('g.run[data-run="' + run + '"]');
    var box = $('status'); box.textContent = '';
    if (!g) return;
    [g.getAttribute('data-left'), g.getAttribute('data-right')].forEach(function(h){
      var span = document.createElement('span'); span.className = 'host';
      var b = document.createElement('b'); b.textContent = (W.hosts[h] || h);
      var st = document.createElement('span'); st.className = 'st';
      st.setAttribute('data-host', h);
      st.textContent = stateAt(run, h, k) || '—';
      span.appendChild(b); span.appendChild(st); box.appendChild(span);
    });
  }
  function go(k) {
    k = Math.max(-1, Math.min(n - 1, k));
    var s;
    var hide = function(el){ el.classList.add('hidden'); };
    var show = function(el){ el.classList.remove('hidden'); };
    if (k > cur) for (s = cur + 1; s <= k; s++) byStep[s].forEach(show);
    else for (s = cur; s > k; s--) byStep[s].forEach(hide);
    cur = k;
    var y = k < 0 ? 0 : ys[k];
    reveal(k < 0 ? 0 : y + 34);
    band.setAttribute('y', String(y - 11)); band.setAttribute('opacity', k < 0 ? '0' : '0.7');
    $('pos').textContent = k < 0 ? W.start : W.of.replace('{k}', k + 1).replace('{n}', n);
    $('say').textContent = k < 0 ? '' : rows[k].getAttribute('data-say');
    root.setAttribute('data-step', String(k));
    status(k);
    $('back').disabled = $('first').disabled = k < 0;
    $('step').disabled = $('last').disabled = k >= n - 1;
    if (k >= n - 1) pause();
    if (k >= 0) {
      var box = svg.getBoundingClientRect(), scale = box.height / parseFloat(svg.getAttribute('height'));
      var top = box.top + y * scale;
      var bar = $('bar').getBoundingClientRect().bottom;
      if (top < bar + 40 || top > window.innerHeight - 60) {
        window.scrollBy(0, top - (bar + window.innerHeight) / 2);
      }
    }
  }
  function play() {
    if (timer || cur >= n - 1) return;
    var speed = parseFloat($('speed').value) || 1;
    timer = setInterval(function(){ go(cur + 1); }, 800 / speed);
    $('play').disabled = true; $('pause').disabled = false;
  }
  function pause() {
    if (timer) clearInterval(timer);
    timer = null; $('play').disabled = cur >= n - 1; $('pause').disabled = true;
  }
  $('first').onclick = function(){ pause(); go(-1); };
  $('back').onclick = function(){ pause(); go(cur - 1); };
  $('step').onclick = function(){ pause(); go(cur + 1); };
  $('last').onclick = function(){ pause(); go(n - 1); };
  $('play').onclick = play;
  $('pause').onclick = pause;
  $('speed').onchange = function(){ if (timer) { pause(); play(); } };
  document.addEventListener('keydown', function(e){
    if (e.target && e.target.tagName === 'SELECT') return;
    if (e.key === 'ArrowRight' || e.key === ' ') { e.preventDefault(); pause(); go(cur + 1); }
    else if (e.key === 'ArrowLeft') { e.preventDefault(); pause(); go(cur - 1); }
    else if (e.key === 'p') { if (timer) pause(); else play(); }
  });
  svg.addEventListener('click', function(e){
    var g = e.target.closest ? e.target.closest('g.seg') : null;
    if (!g) return;
    var sel = svg.querySelectorAll('g.seg.sel');
    Array.prototype.forEach.call(sel, function(x){ x.classList.remove('sel'); });
    g.classList.add('sel');
    var t = g.querySelector('title');
    $('detail').textContent = t ? t.textContent : '';
  });
  window.synackLadder = {go: go, play: play, pause: pause, steps: n, step: function(){ return cur; }};
  go(-1);
})();
"""


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def ladder_html(svg: str, *, lang: Lang = "en", title: str = "synack", section: str | None = None,
                explanation: str | None = None, titles: Sequence[str | None] | None = None,
                facts: Sequence[Sequence[str]] | None = None) -> str:
    """The page of a ladder drawn by :mod:`synack.views.svg` (``svg``, in the same
    ``lang``): ``title`` its heading, ``section`` and ``explanation`` the scenario's
    words, ``facts`` each run's outcomes (listed under the picture, headed by
    ``titles``)."""
    words = _WORDS[lang]
    hosts = dict(HOSTS_ZH) if lang == "zh" else {}
    data = json.dumps({"of": words["of"], "start": words["start"], "hosts": hosts}, ensure_ascii=False)
    data = data.replace("</", "<\\/")
    speeds = "".join(f'<option value="{v}"{" selected" if v == "1" else ""}>{v}×</option>'
                     for v in ("0.25", "0.5", "1", "2", "4", "8"))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_esc(title)}</h1>",
    ]
    if section:
        parts.append(f'<p class="section">{_esc(words["section"])}: {_esc(section)}</p>')
    if explanation:
        parts.append(f'<p class="explain">{_esc(explanation)}</p>')
    parts += [
        "</header>",
        '<div id="bar">',
        '<nav id="controls">',
        f'<button id="first" type="button">◀◀ {words["first"]}</button>',
        f'<button id="back" type="button">◀ {words["back"]}</button>',
        f'<button id="play" type="button">▶ {words["play"]}</button>',
        f'<button id="pause" type="button" disabled>❚❚ {words["pause"]}</button>',
        f'<button id="step" type="button">{words["step"]} ▶</button>',
        f'<button id="last" type="button">{words["last"]} ▶▶</button>',
        f'<label>{words["speed"]} <select id="speed">{speeds}</select></label>',
        '<span id="pos" class="pos"></span>',
        f'<span class="keys">{_esc(words["keys"])}</span>',
        "</nav>",
        '<div id="status"></div>',
        '<p id="say"></p>',
        "</div>",
        f'<pre id="detail">{_esc(words["click"])}</pre>',
        f'<noscript><p>{_esc(words["noscript"])}</p></noscript>',
        f'<div id="ladder">{svg}</div>',
    ]
    if facts and any(facts):
        parts.append(f'<section id="facts"><h2>{_esc(words["facts"])}</h2>')
        for i, run_facts in enumerate(facts):
            if not run_facts:
                continue
            if len(facts) > 1 and titles is not None and i < len(titles) and titles[i]:
                parts.append(f"<h3>{_esc(titles[i] or '')}</h3>")
            parts.append("<ul>" + "".join(f"<li>{_esc(f)}</li>" for f in run_facts) + "</ul>")
        parts.append("</section>")
    parts += [
        f'<script type="application/json" id="synack-words">{data}</script>',
        f"<script>{_JS}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"
