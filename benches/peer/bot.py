"""The benchmark peer: labelflow's measured step (label `bench::go` added -> one comment),
written the way gidgetlab's documentation shows a bot: `gidgetlab.aiohttp.GitLabBot`, an
aiohttp web server whose router calls a coroutine per webhook, which posts through the
GitLab API client the bot hands it.

Settings come from the environment: GL_URL (GitLab base URL), GL_ACCESS_TOKEN, GL_SECRET
(checked against X-Gitlab-Token) and PEER_PORT.

`wait_consistency=False`: GitLabBot sleeps 1 s before handling each webhook by default; the
peer is measured without that pause, which is its best case.
"""

import os

from gidgetlab.aiohttp import GitLabBot

TRIGGER_LABEL = "bench::go"
COMMENT = "Step done: `bench::go` was added, so this comment was posted."

bot = GitLabBot(
    "gidgetbot",
    url=os.environ["GL_URL"],
    wait_consistency=False,
)


def label_titles(changes, side):
    return {label.get("title") for label in (changes.get(side) or [])}


@bot.router.register("Issue Hook")
async def label_added(event, gl, *args, **kwargs):
    changes = (event.data.get("changes") or {}).get("labels")
    if not changes:
        return
    added = label_titles(changes, "current") - label_titles(changes, "previous")
    if TRIGGER_LABEL not in added:
        return
    iid = event.object_attributes["iid"]
    await gl.post(
        f"/projects/{event.project_id}/issues/{iid}/notes", data={"body": COMMENT}
    )


if __name__ == "__main__":
    bot.run(host="127.0.0.1", port=int(os.environ["PEER_PORT"]), print=None)
