// Shared by the fixture pages: fetch JSON, and draw one post the way group and feed sites do.
async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ': ' + response.status);
  return response.json();
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function drawComments(box, comments) {
  for (const c of comments) {
    box.append(el('div', {class: 'comment', id: c.anchor},
      el('b', {}, c.author), ' ',
      el('a', {class: 'permalink', href: c.permalink}, el('time', {datetime: c.time}, c.time)),
      el('p', {}, c.text)));
  }
}

function drawPost(post) {
  const article = el('article', {class: 'post', id: 'post-' + post.id},
    el('header', {}, el('b', {}, post.author), ' · ',
      el('a', {href: post.permalink}, el('time', {datetime: post.time}, post.time))),
    el('p', {}, post.text));
  if (post.comments) {
    const box = el('div', {class: 'comments'});
    const button = el('button', {type: 'button'}, 'Se flere kommentarer (' + post.comments + ')');
    button.addEventListener('click', async () => {
      button.disabled = true;
      const data = await getJSON('/api/comments?post=' + post.id);
      button.remove();
      drawComments(box, data.comments);
    });
    article.append(box, button);
  }
  return article;
}
