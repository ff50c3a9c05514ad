// Three files in the page cache plus one fdatasync of a shared journal overwritten in place (docs/profile.md).
// gcc -O2 -o journal journal.c -lpthread && ./journal jrnl|jonly DIR
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>
#define CH 33000
#define TOTAL (300L<<20)
#define JSIZE (64L<<20)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static int fds[3], jfd;
static pthread_mutex_t mu=PTHREAD_MUTEX_INITIALIZER; static pthread_cond_t cv=PTHREAD_COND_INITIALIZER;
static long want_ckpt=0, done_ckpt=0; static int quit=0;
static void* ckpt(void*p){ for(;;){ pthread_mutex_lock(&mu); while(want_ckpt==done_ckpt && !quit) pthread_cond_wait(&cv,&mu); if(quit&&want_ckpt==done_ckpt){pthread_mutex_unlock(&mu);return 0;} long w=want_ckpt; pthread_mutex_unlock(&mu);
  for(int i=0;i<3;i++) fdatasync(fds[i]);
  pthread_mutex_lock(&mu); done_ckpt=w; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);} }
int main(int argc,char**argv){
  const char*mode=argv[1]; const char*dir=argv[2]; int segs=strcmp(mode,"jonly")!=0;
  char buf[CH*8]; memset(buf,'x',sizeof buf);
  char path[256]; long off[3]={0}, pre[3]={0};
  for(int i=0;i<3;i++){snprintf(path,256,"%s/s%d",dir,i); unlink(path); fds[i]=open(path,O_RDWR|O_CREAT,0644);}
  snprintf(path,256,"%s/journal",dir); unlink(path); jfd=open(path,O_RDWR|O_CREAT,0644);
  for(long o=0;o<JSIZE;o+=sizeof buf) pwrite(jfd,buf,sizeof buf,o); fsync(jfd);
  pthread_t th; pthread_create(&th,0,ckpt,0);
  long written=0, jpos=0, jtotal=0; int groups=0;
  double t0=now();
  while(written<TOTAL){
    if(segs) for(int k=0;k<8;k++){int f=k%3; if(off[f]+CH>pre[f]){fallocate(fds[f],1,pre[f],8<<20);pre[f]+=8<<20;} pwrite(fds[f],buf,CH,off[f]);off[f]+=CH;}
    written+=8*CH;
    long n=8*CH; if(jpos+n>JSIZE) jpos=0;
    // before overwriting, everything older than one journal length ago must be checkpointed
    pwrite(jfd,buf,n,jpos); jpos+=n; jtotal+=n;
    fdatasync(jfd);
    groups++;
    if(segs){ pthread_mutex_lock(&mu);
      if(jtotal - want_ckpt >= JSIZE/2 && want_ckpt==done_ckpt){ want_ckpt=jtotal; pthread_cond_broadcast(&cv);} 
      while(jtotal - done_ckpt > JSIZE - n) pthread_cond_wait(&cv,&mu);
      pthread_mutex_unlock(&mu);}
  }
  double t=now()-t0;
  pthread_mutex_lock(&mu); quit=1; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu); pthread_join(th,0);
  printf("%s %.3f s groups %d %.3f ms/group\n",mode,t,groups,t*1000/groups);
  for(int i=0;i<3;i++){snprintf(path,256,"%s/s%d",dir,i); unlink(path);} unlink(path);
  return 0;
}
