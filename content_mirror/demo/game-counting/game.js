/* Sanduq counting game: count the pictures (1-5), tap the number. 5 rounds.
 * Runs in a sandboxed iframe (allow-scripts only): no storage, no network, no
 * files from outside this zip. Written in ES5 so that old Android Chrome runs it.
 * Test hooks: #play[data-count] is the current count, each number button has
 * data-value, and #finished appears when the game is over. */
(function () {
  "use strict";

  var TOTAL = 5;

  var STRINGS = {
    tg: {
      title: "Биё, шуморем!",
      prompt: "Чандто ҳаст? Рақами дурустро пахш кун.",
      round: "Саволи {n} аз {total}",
      right: "Офарин!",
      wrong: "Не, боз як бор шумор!",
      doneTitle: "Офарин!",
      doneText: "Ту хеле хуб шумурдӣ!",
      score: "Ҷавобҳои дуруст: {score} аз {total}",
      again: "Боз бозӣ кунем",
      things: ["себ", "ситора", "тӯб", "гул", "моҳӣ"]
    },
    ru: {
      title: "Давай считать!",
      prompt: "Сколько здесь? Нажми на нужную цифру.",
      round: "Вопрос {n} из {total}",
      right: "Молодец!",
      wrong: "Нет, посчитай ещё раз!",
      doneTitle: "Молодец!",
      doneText: "Ты отлично считаешь!",
      score: "Правильных ответов: {score} из {total}",
      again: "Играть ещё раз",
      things: ["яблоко", "звезда", "мяч", "цветок", "рыбка"]
    },
    en: {
      title: "Let's count!",
      prompt: "How many are there? Tap the right number.",
      round: "Question {n} of {total}",
      right: "Well done!",
      wrong: "Not quite. Count again!",
      doneTitle: "Well done!",
      doneText: "You are great at counting!",
      score: "Correct answers: {score} of {total}",
      again: "Play again",
      things: ["apple", "star", "ball", "flower", "fish"]
    }
  };

  /* Pictures to count, drawn inline so nothing is fetched. */
  var PICTURES = [
    '<path d="M50 30C30 18 8 28 10 52C12 78 32 94 50 86C68 94 88 78 90 52C92 28 70 18 50 30Z" fill="#e53935"/>' +
      '<path d="M50 30C50 22 52 14 56 8" stroke="#6d4c41" stroke-width="5" fill="none"/>' +
      '<path d="M54 18C62 6 78 6 84 12C76 22 62 24 54 18Z" fill="#43a047"/>',
    '<path d="M50 6L62 38H96L68 58L79 92L50 71L21 92L32 58L4 38H38Z" fill="#fbc02d"/>',
    '<circle cx="50" cy="50" r="42" fill="#1e88e5"/><path d="M12 42Q50 60 88 42" stroke="#fff" stroke-width="6" fill="none"/>',
    '<g fill="#ec407a"><circle cx="50" cy="26" r="18"/><circle cx="74" cy="44" r="18"/><circle cx="65" cy="72" r="18"/>' +
      '<circle cx="35" cy="72" r="18"/><circle cx="26" cy="44" r="18"/></g><circle cx="50" cy="50" r="14" fill="#ffeb3b"/>',
    '<path d="M8 50Q40 14 74 50Q40 86 8 50Z" fill="#ff7043"/><path d="M70 50L94 30V70Z" fill="#ff7043"/>' +
      '<circle cx="26" cy="46" r="5" fill="#37474f"/>'
  ];

  function pickLanguage() {
    var m = /[?&]lang=([a-zA-Z-]+)/.exec(window.location.search || "");
    var wanted = m ? m[1] : (navigator.language || "");
    wanted = wanted.toLowerCase().split("-")[0];
    return STRINGS.hasOwnProperty(wanted) ? wanted : "tg";
  }

  var lang = pickLanguage();
  var S = STRINGS[lang];

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return values.hasOwnProperty(key) ? String(values[key]) : all;
    });
  }

  function $(id) { return document.getElementById(id); }

  /* A short tone on tap. Any failure (no Web Audio, blocked) is ignored. */
  var audio = null;
  function beep(good) {
    try {
      if (!audio) {
        var Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) { return; }
        audio = new Ctx();
      }
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      var now = audio.currentTime;
      osc.type = "sine";
      osc.frequency.setValueAtTime(good ? 660 : 220, now);
      if (good) { osc.frequency.setValueAtTime(880, now + 0.12); }
      gain.gain.setValueAtTime(0.2, now);
      gain.gain.exponentialRampToValueAtTime(0.001, now + 0.35);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(now);
      osc.stop(now + 0.36);
    } catch (e) { /* no sound, no problem */ }
  }

  /* Counts for the 5 rounds: 1-5 in a random order, so each number comes once. */
  function shuffledCounts() {
    var counts = [1, 2, 3, 4, 5];
    for (var i = counts.length - 1; i > 0; i--) {
      var j = Math.floor(Math.random() * (i + 1));
      var t = counts[i]; counts[i] = counts[j]; counts[j] = t;
    }
    return counts;
  }

  var counts, round, score, missedThisRound, locked;

  function renderProgress() {
    var list = $("progress");
    list.innerHTML = "";
    for (var i = 0; i < TOTAL; i++) {
      var li = document.createElement("li");
      if (i < round) { li.className = results[i] ? "done" : "missed"; }
      else if (i === round) { li.className = "now"; }
      list.appendChild(li);
    }
  }

  var results = [];

  function showRound() {
    var n = counts[round];
    var kind = round % PICTURES.length;
    var play = $("play");
    var html = "";
    for (var i = 0; i < n; i++) {
      html += '<svg viewBox="0 0 100 100" aria-hidden="true" style="animation-delay:' +
        (i * 0.12) + 's">' + PICTURES[kind] + "</svg>";
    }
    play.innerHTML = html;
    play.setAttribute("data-count", String(n));
    play.setAttribute("data-round", String(round + 1));
    play.setAttribute("aria-label", S.things[kind]);
    $("round").textContent = fill(S.round, { n: round + 1, total: TOTAL });
    $("feedback").textContent = "";
    $("feedback").className = "feedback";
    var buttons = $("numbers").getElementsByTagName("button");
    for (var b = 0; b < buttons.length; b++) {
      buttons[b].className = "";
      buttons[b].disabled = false;
    }
    missedThisRound = false;
    locked = false;
    renderProgress();
  }

  function answer(value, button) {
    if (locked) { return; }
    var feedback = $("feedback");
    if (value === counts[round]) {
      locked = true;
      button.className = "right";
      feedback.textContent = S.right;
      feedback.className = "feedback good";
      beep(true);
      results[round] = !missedThisRound;
      if (!missedThisRound) { score += 1; }
      window.setTimeout(function () {
        round += 1;
        if (round < TOTAL) { showRound(); } else { finish(); }
      }, 900);
    } else {
      missedThisRound = true;
      button.className = "wrong";
      button.disabled = true;
      feedback.textContent = S.wrong;
      feedback.className = "feedback bad";
      beep(false);
    }
  }

  function finish() {
    renderProgress();
    $("round").textContent = "";
    $("prompt").textContent = "";
    $("play").style.display = "none";
    $("numbers").style.display = "none";
    $("feedback").textContent = "";
    var done = document.createElement("section");
    done.id = "finished";
    done.setAttribute("data-score", String(score));
    done.setAttribute("data-total", String(TOTAL));
    done.innerHTML = '<svg viewBox="0 0 100 100" aria-hidden="true">' + PICTURES[1] + "</svg>";
    var h2 = document.createElement("h2");
    h2.textContent = S.doneTitle;
    var p1 = document.createElement("p");
    p1.textContent = S.doneText;
    var p2 = document.createElement("p");
    p2.id = "score";
    p2.textContent = fill(S.score, { score: score, total: TOTAL });
    var again = document.createElement("button");
    again.type = "button";
    again.id = "again";
    again.textContent = S.again;
    again.onclick = start;
    done.appendChild(h2);
    done.appendChild(p1);
    done.appendChild(p2);
    done.appendChild(again);
    $("game").appendChild(done);
    try {
      window.parent.postMessage({ type: "sanduq:finished", score: score, total: TOTAL }, "*");
    } catch (e) { /* not framed, or the parent is gone */ }
  }

  function start() {
    var old = $("finished");
    if (old) { old.parentNode.removeChild(old); }
    $("play").style.display = "";
    $("numbers").style.display = "";
    $("prompt").textContent = S.prompt;
    counts = shuffledCounts();
    results = [];
    round = 0;
    score = 0;
    showRound();
  }

  function setup() {
    document.documentElement.lang = lang;
    document.title = S.title;
    $("title").textContent = S.title;
    var numbers = $("numbers");
    for (var v = 1; v <= 5; v++) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = String(v);
      button.setAttribute("data-value", String(v));
      button.onclick = (function (value) {
        return function (event) { answer(value, event.currentTarget || this); };
      })(v);
      numbers.appendChild(button);
    }
    start();
  }

  setup();
}());
