/* Sanduq's one script. Every page works without it; it adds: resuming media where this
   phone left off, the next item when one ends, turning book pages and reading aloud, full
   screen games, suggestions while typing, course progress and today's class, all kept on
   this device (localStorage), never on the box. Written for Chrome 60 on old phones.
   One init function per feature, each doing nothing on a page without its feature; they
   are started from the list at the bottom. */
(function () {
  "use strict";
  var store = {
    get: function (k, d) { try { var v = localStorage.getItem("sanduq:" + k); return v === null ? d : JSON.parse(v); } catch (e) { return d; } },
    set: function (k, v) { try { localStorage.setItem("sanduq:" + k, JSON.stringify(v)); } catch (e) { /* full or private mode */ } },
    del: function (k) { try { localStorage.removeItem("sanduq:" + k); } catch (e) { /* ignore */ } }
  };
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function send(type, item, value) {
    var event = { type: type, item: item };
    if (value !== undefined) { event.value = value; }
    try {
      fetch("/api/events", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ events: [event] }), keepalive: true, credentials: "same-origin" });
    } catch (e) { /* usage is never worth an error */ }
  }
  var article = $("article[data-item]");
  var itemId = article && article.getAttribute("data-item");
  var classroom = /[?&]classroom=1/.test(location.search);

  function finished() {
    if (!itemId) { return; }
    store.set("done:" + itemId, new Date().toISOString().slice(0, 10));
    send("finished", itemId);
  }

  function goNext() {
    var list = store.get("playlist", []);
    var at = list.indexOf(itemId);
    if (classroom && at >= 0 && at + 1 < list.length) {
      location.href = "/item/" + list[at + 1] + "?classroom=1";
      return;
    }
    var next = $("[data-next]");
    if (next) { next.classList.add("show"); next.focus(); next.scrollIntoView({ behavior: "smooth", block: "center" }); }
  }

  // Video and audio: resume, progress, next; full screen and awake in class.
  function initMedia() {
    var media = $("[data-media]");
    if (!media || !itemId) { return; }
    var key = "pos:" + itemId, saved = 0, reported = 0, wakeLock = null;
    var resume = function () {
      var pos = store.get(key, 0);
      if (pos > 1 && pos < media.duration - 2) { media.currentTime = pos; }
    };
    // The script is deferred: the metadata may have arrived before it runs.
    if (media.readyState >= 1) { resume(); } else { media.addEventListener("loadedmetadata", resume); }
    media.addEventListener("timeupdate", function () {
      var now = media.currentTime;
      if (Math.abs(now - saved) >= 2) { saved = now; store.set(key, now); }
      var quarter = media.duration ? Math.floor(4 * now / media.duration) / 4 : 0;
      if (quarter > reported && quarter < 1) { reported = quarter; send("progress", itemId, quarter); }
    });
    media.addEventListener("ended", function () { store.del(key); finished(); goNext(); });
    media.addEventListener("play", function () {
      // The teacher's tablet must not dim mid-video (Chrome 84+; older Chrome keeps it awake while playing).
      if (navigator.wakeLock && !wakeLock) {
        navigator.wakeLock.request("screen").then(function (l) { wakeLock = l; l.addEventListener("release", function () { wakeLock = null; }); }, function () {});
      }
      if (classroom && media.requestFullscreen && !document.fullscreenElement) { media.requestFullscreen().catch(function () {}); }
    });
    if (classroom) { media.autoplay = true; media.play().catch(function () {}); }
  }

  // Picture books: buttons, keys, page number, finished on the last page. Each page shown
  // is announced as a "sanduq:page" event on the book, which reading aloud listens to.
  function initBook() {
    var book = $("#book");
    if (!book) { return; }
    var pages = $$(".page", book), current = 0;
    var controls = $("[data-book-controls]"), number = $("[data-page-number]");
    controls.hidden = false;
    function show(i) {
      current = Math.max(0, Math.min(pages.length - 1, i));
      number.textContent = (current + 1) + " / " + pages.length;
      book.dispatchEvent(new CustomEvent("sanduq:page", { detail: pages[current] }));
      if (current === pages.length - 1) { finished(); }
    }
    function turn(by) { pages[Math.max(0, Math.min(pages.length - 1, current + by))].scrollIntoView({ behavior: "smooth", block: "nearest", inline: "center" }); show(current + by); }
    $$("[data-turn]", controls).forEach(function (b) { b.addEventListener("click", function () { turn(+b.getAttribute("data-turn")); }); });
    book.addEventListener("keydown", function (e) { if (e.key === "ArrowRight") { turn(1); } if (e.key === "ArrowLeft") { turn(-1); } });
    var settle;
    book.addEventListener("scroll", function () {
      clearTimeout(settle);
      settle = setTimeout(function () { var i = Math.round(book.scrollLeft / book.clientWidth); if (i !== current) { show(i); } }, 120);
    });
    number.textContent = "1 / " + pages.length;
  }

  // Read to me: each page's narration plays as the page turns, while the button is pressed
  // (the choice is kept for the next book).
  function initReadAloud() {
    var book = $("#book"), button = $("[data-read-aloud]");
    if (!book || !button) { return; }
    var aloud = store.get("aloud", false), page = $(".page", book);
    function play() {
      $$("audio", book).forEach(function (a) { a.pause(); });
      var voice = $("audio", page);
      if (aloud && voice) { voice.currentTime = 0; voice.play().catch(function () {}); }
    }
    book.addEventListener("sanduq:page", function (e) { page = e.detail; play(); });
    button.setAttribute("aria-pressed", String(aloud));
    button.addEventListener("click", function () { aloud = !aloud; store.set("aloud", aloud); button.setAttribute("aria-pressed", String(aloud)); play(); });
  }

  // Games: full screen, and the game's own "finished" message.
  function initGame() {
    $$("[data-fullscreen]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-fullscreen"));
      var request = target.requestFullscreen || target.webkitRequestFullscreen;
      if (!request) { return; }
      button.hidden = false;
      button.addEventListener("click", function () { request.call(target); });
    });
    var frame = $(".game iframe");
    if (!frame) { return; }
    window.addEventListener("message", function (e) {
      if (e.source === frame.contentWindow && e.data && e.data.type === "sanduq:finished") { finished(); goNext(); }
    });
  }

  // The item's action bar holds only buttons that need this script: it shows with them.
  function initItemActions() {
    var actions = $("[data-item-actions]");
    if (actions && actions.children.length) { actions.hidden = false; }
  }

  // "I have done this", for what is read or done away from the screen.
  function initDone() {
    var done = $("[data-mark-done]");
    if (!done) { return; }
    if (store.get("done:" + itemId, null)) { done.disabled = true; }
    done.addEventListener("click", function () { finished(); done.disabled = true; goNext(); });
  }

  // "Add to today's class" on an item page.
  function initAddToClass() {
    var add = $("[data-playlist-add]");
    if (!add) { return; }
    var label = function () { if (store.get("playlist", []).indexOf(itemId) >= 0) { add.textContent = add.getAttribute("data-added-label"); add.disabled = true; } };
    label();
    add.addEventListener("click", function () { var l = store.get("playlist", []); l.push(itemId); store.set("playlist", l); label(); });
  }

  // A course: its lessons done on this device ticked, and the bar filled to match.
  function initCourseProgress() {
    var modules = $("[data-course]");
    if (!modules) { return; }
    var lessons = $$("[data-lesson]", modules), count = 0;
    lessons.forEach(function (li) { if (store.get("done:" + li.getAttribute("data-lesson"), null)) { count++; $(".done-mark", li).hidden = false; } });
    var bar = $("[data-course-progress]");
    bar.hidden = false;
    bar.firstElementChild.style.width = (lessons.length ? 100 * count / lessons.length : 0) + "%";
  }

  // The record of completion: the name typed on this phone, the lessons done and when.
  function initRecord() {
    var record = $("[data-record]");
    if (!record) { return; }
    var name = $("#name");
    name.value = store.get("name", "");
    name.addEventListener("change", function () { store.set("name", name.value); });
    fetch("/api/items/" + record.getAttribute("data-record")).then(function (r) { return r.json(); }).then(function (course) {
      var ids = [], last = "";
      course.modules.forEach(function (m) { ids = ids.concat(m.lessons); });
      var doneIds = ids.filter(function (id) { var d = store.get("done:" + id, null); if (d && d > last) { last = d; } return d; });
      $("[data-record-status]").textContent = doneIds.length + " / " + ids.length + " ✓";
      $("[data-record-date]").textContent = last;
    }).catch(function () {});
    var print = $("[data-print]");
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }

  // The classroom page: today's list as big picture buttons, in the order it was made.
  function initClassroomList() {
    var playlist = $("[data-playlist]");
    var ids = store.get("playlist", []);
    if (!playlist || !ids.length) { return; }
    playlist.hidden = false;
    $("[data-playlist-empty]").hidden = true;
    var grid = $("[data-playlist-items]");
    ids.forEach(function (id) {
      fetch("/api/items/" + id).then(function (r) { return r.ok ? r.json() : null; }).then(function (item) {
        if (!item) { return; }
        var a = document.createElement("a"), poster = item.files.filter(function (f) { return f.role === "poster"; })[0];
        a.className = "card"; a.href = "/item/" + id + "?classroom=1";
        var thumb = document.createElement("span"); thumb.className = "thumb";
        if (poster) { var img = document.createElement("img"); img.src = poster.url; img.alt = ""; thumb.appendChild(img); }
        var title = document.createElement("span"); title.className = "card-title"; title.textContent = item.title;
        a.appendChild(thumb); a.appendChild(title);
        // The answers arrive in any order; the grid shows them in the list's.
        a.style.order = ids.indexOf(id);
        grid.appendChild(a);
      });
    });
    $("[data-playlist-clear]").addEventListener("click", function () { store.del("playlist"); location.reload(); });
  }

  // Suggestions while typing a search.
  function initSuggestions() {
    var q = $("#q");
    if (!q || !window.fetch) { return; }
    var list = document.createElement("ul"), timer, asked = "";
    list.id = "suggest"; list.setAttribute("role", "listbox"); list.hidden = true;
    q.parentNode.appendChild(list);
    q.setAttribute("aria-controls", "suggest");
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = q.value.trim();
        if (text.length < 2) { list.hidden = true; return; }
        asked = text;
        fetch("/api/search?suggest=1&limit=6&q=" + encodeURIComponent(text)).then(function (r) { return r.json(); }).then(function (answer) {
          if (asked !== text) { return; }
          list.textContent = "";
          answer.items.forEach(function (item) {
            var li = document.createElement("li"), a = document.createElement("a");
            li.setAttribute("role", "option"); a.href = "/item/" + item.id; a.textContent = item.title;
            li.appendChild(a); list.appendChild(li);
          });
          list.hidden = !answer.items.length;
        }).catch(function () {});
      }, 200);
    });
    document.addEventListener("click", function (e) { if (e.target !== q) { list.hidden = true; } });
  }

  [initMedia, initBook, initReadAloud, initGame, initItemActions, initDone, initAddToClass, initCourseProgress,
    initRecord, initClassroomList, initSuggestions].forEach(function (init) { init(); });
})();
