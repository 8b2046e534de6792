/* The mslam GStreamer plugin: speech recognition, speech translation into English and spoken
 * language identification with one mSLAM model. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmslamelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = FALSE;

  ok |= GST_ELEMENT_REGISTER (mslamasr, plugin);
  ok |= GST_ELEMENT_REGISTER (mslamtranslate, plugin);
  ok |= GST_ELEMENT_REGISTER (mslamlid, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, mslam,
    "Speech recognition, translation and language identification with mSLAM",
    plugin_init, PACKAGE_VERSION, "MIT/X11", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
